/**
 * Binary min-heap of (a, b, payload) number triples ordered by a, then b. Parallel number arrays avoid one
 * object allocation per entry, which matters in the BPE and training inner loops.
 */
export class TripleHeap {
  private a: number[] = [];
  private b: number[] = [];
  private p: number[] = [];

  get size(): number {
    return this.a.length;
  }

  clear(): void {
    this.a.length = 0;
    this.b.length = 0;
    this.p.length = 0;
  }

  topA(): number {
    return this.a[0];
  }
  topB(): number {
    return this.b[0];
  }
  topPayload(): number {
    return this.p[0];
  }

  push(a: number, b: number, payload: number): void {
    const A = this.a;
    const B = this.b;
    const P = this.p;
    let i = A.length;
    A.push(a);
    B.push(b);
    P.push(payload);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (A[parent] < a || (A[parent] === a && B[parent] <= b)) break;
      A[i] = A[parent];
      B[i] = B[parent];
      P[i] = P[parent];
      i = parent;
    }
    A[i] = a;
    B[i] = b;
    P[i] = payload;
  }

  pop(): void {
    const A = this.a;
    const B = this.b;
    const P = this.p;
    const lastA = A.pop()!;
    const lastB = B.pop()!;
    const lastP = P.pop()!;
    const n = A.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (A[r] < A[c] || (A[r] === A[c] && B[r] < B[c]))) c = r;
      if (lastA < A[c] || (lastA === A[c] && lastB <= B[c])) break;
      A[i] = A[c];
      B[i] = B[c];
      P[i] = P[c];
      i = c;
    }
    A[i] = lastA;
    B[i] = lastB;
    P[i] = lastP;
  }
}
