// A minimal Parquet writer for tests: one row group, required UTF-8 string columns, PLAIN encoding, no
// compression. Enough to check that ingest reads what real writers produce for such files.

class Compact {
  bytes: number[] = [];
  private last: number[] = [0];

  private varint(n: bigint): void {
    let v = n;
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }
  private zigzag(n: number | bigint): void {
    const b = BigInt(n);
    this.varint(b >= 0n ? b << 1n : (-b << 1n) - 1n);
  }
  private header(id: number, type: number): void {
    const delta = id - this.last.at(-1)!;
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else {
      this.bytes.push(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): this {
    this.header(id, 5);
    this.zigzag(v);
    return this;
  }
  i64(id: number, v: number): this {
    this.header(id, 6);
    this.zigzag(v);
    return this;
  }
  str(id: number, s: string): this {
    this.header(id, 8);
    const b = Buffer.from(s);
    this.varint(BigInt(b.length));
    this.bytes.push(...b);
    return this;
  }
  struct(id: number, body: (c: this) => void): this {
    this.header(id, 12);
    this.last.push(0);
    body(this);
    this.bytes.push(0);
    this.last.pop();
    return this;
  }
  list(id: number, elemType: number, items: unknown[], write: (c: this, item: never) => void): this {
    this.header(id, 9);
    this.bytes.push(items.length < 15 ? (items.length << 4) | elemType : 0xf0 | elemType);
    if (items.length >= 15) this.varint(BigInt(items.length));
    for (const it of items) {
      if (elemType === 12) {
        this.last.push(0);
        write(this, it as never);
        this.bytes.push(0);
        this.last.pop();
      } else write(this, it as never);
    }
    return this;
  }
  rawZigzag(v: number): void {
    this.zigzag(v);
  }
  rawStr(s: string): void {
    const b = Buffer.from(s);
    this.varint(BigInt(b.length));
    this.bytes.push(...b);
  }
  end(): Buffer {
    this.bytes.push(0);
    return Buffer.from(this.bytes);
  }
}

/** A Parquet file holding the given string columns (all the same length). */
export function writeParquet(columns: Record<string, string[]>): Buffer {
  const names = Object.keys(columns);
  const rows = columns[names[0]!]!.length;
  const parts: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const chunks: { name: string; offset: number; size: number }[] = [];
  for (const name of names) {
    const data = Buffer.concat(
      columns[name]!.flatMap((s) => {
        const b = Buffer.from(s);
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        return [len, b];
      }),
    );
    const header = new Compact()
      .i32(1, 0)
      .i32(2, data.length)
      .i32(3, data.length)
      .struct(5, (c) => c.i32(1, rows).i32(2, 0).i32(3, 3).i32(4, 3))
      .end();
    chunks.push({ name, offset, size: header.length + data.length });
    parts.push(header, data);
    offset += header.length + data.length;
  }
  const meta = new Compact()
    .i32(1, 1)
    .list(
      2,
      12,
      [{ root: true }, ...names.map((n) => ({ name: n }))],
      (c, el: { root?: boolean; name?: string }) => {
        if (el.root) c.str(4, 'schema').i32(5, names.length);
        else c.i32(1, 6).i32(3, 0).str(4, el.name!).i32(6, 0);
      },
    )
    .i64(3, rows)
    .list(4, 12, [0], (c) => {
      c.list(1, 12, chunks, (cc, ch: { name: string; offset: number; size: number }) => {
        cc.i64(2, ch.offset).struct(3, (m) =>
          m
            .i32(1, 6)
            .list(2, 5, [0], (x) => x.rawZigzag(0))
            .list(3, 8, [ch.name], (x, s: string) => x.rawStr(s))
            .i32(4, 0)
            .i64(5, rows)
            .i64(6, ch.size)
            .i64(7, ch.size)
            .i64(9, ch.offset),
        );
      })
        .i64(2, offset - 4)
        .i64(3, rows);
    })
    .end();
  const len = Buffer.alloc(4);
  len.writeUInt32LE(meta.length);
  parts.push(meta, len, Buffer.from('PAR1'));
  return Buffer.concat(parts);
}
