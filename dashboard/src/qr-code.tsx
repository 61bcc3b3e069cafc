import { useEffect, useState } from 'preact/hooks';

/**
 * A QR code of a text, drawn as SVG in the browser (uqr): the TOTP setup's otpauth:// link, for a
 * phone to scan, with the quiet zone of four modules the QR standard asks for. uqr is loaded only
 * when a code is shown, so the other pages do not wait for it. The SVG is uqr's own output
 * (rectangles and one path, no text from the link), so it is set as markup.
 */
export function QrCode({ text, label }: { text: string; label: string }) {
  const [svg, setSvg] = useState<string>();
  useEffect(() => {
    let live = true;
    void import('uqr').then(({ renderSVG }) => live && setSvg(renderSVG(text, { pixelSize: 6, border: 4 })));
    return () => {
      live = false;
    };
  }, [text]);
  if (!svg) return <p aria-busy="true">Drawing the QR code…</p>;
  return <div class="qr" role="img" aria-label={label} dangerouslySetInnerHTML={{ __html: svg }} />;
}
