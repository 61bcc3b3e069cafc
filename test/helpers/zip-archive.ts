import { crc32, deflateRawSync } from 'node:zlib';

/**
 * A one-file zip archive, deflated, as DMARC reporters send them. `claimedSize` writes another
 * uncompressed size into the headers than the data has: a zip bomb that lies about its size.
 */
export function zipOf(name: string, data: Buffer, claimedSize = data.length): Buffer {
  const body = deflateRawSync(data);
  const fileName = Buffer.from(name);
  const fields = (sig: number, central: boolean) => {
    const h = Buffer.alloc(central ? 46 : 30);
    h.writeUInt32LE(sig, 0);
    let o = 4;
    if (central) h.writeUInt16LE(20, o), (o += 2); // version made by
    h.writeUInt16LE(20, o); // version needed
    h.writeUInt16LE(0, o + 2); // flags
    h.writeUInt16LE(8, o + 4); // deflate
    h.writeUInt32LE(0, o + 6); // time, date
    h.writeUInt32LE(crc32(data), o + 10);
    h.writeUInt32LE(body.length, o + 14);
    h.writeUInt32LE(claimedSize, o + 18);
    h.writeUInt16LE(fileName.length, o + 22);
    return h; // extra, comment, disk, attributes and the local header's offset: all 0
  };
  const local = Buffer.concat([fields(0x04034b50, false), fileName, body]);
  const central = Buffer.concat([fields(0x02014b50, true), fileName]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(local.length, 16);
  return Buffer.concat([local, central, end]);
}
