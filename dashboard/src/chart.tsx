import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: number[];
  color: string;
}

/**
 * A time series (uPlot: small, canvas-drawn, no DOM per point): one line per series over days.
 * The table of the same figures sits beside it for people who do not read charts.
 */
export function DailyChart({ days, series, title }: { days: string[]; series: Series[]; title: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const plot = new uPlot(
      {
        title,
        width: Math.max(320, host.current.clientWidth),
        height: 220,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
        axes: [{}, { size: 50 }],
      },
      [xs, ...series.map((s) => s.values)],
      host.current,
    );
    return () => plot.destroy();
  }, [JSON.stringify(days), JSON.stringify(series), title]);
  return (
    <div
      ref={host}
      class="chart"
      role="img"
      aria-label={`${title}: ${series.map((s) => s.label).join(', ')} per day`}
    />
  );
}
