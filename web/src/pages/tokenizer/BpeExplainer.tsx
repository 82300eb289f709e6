/** A short, static explanation of byte-pair encoding. */
export default function BpeExplainer() {
  return (
    <div class="card explainer">
      <div class="card-head">
        <h2>How BPE works</h2>
      </div>
      <p>
        <strong>Byte-pair encoding</strong> starts with the smallest possible vocabulary — the 256 byte
        values, so any text in any language can be written — and then learns <em>merges</em>: it counts which
        pair of adjacent tokens occurs most often in the training text, adds that pair as a new token, and
        repeats until the vocabulary has the size you asked for.
      </p>
      <ol class="bpe-steps">
        <li>
          <span class="mono">l o w · l o w e r · l o w e s t</span> — start from single characters (bytes)
        </li>
        <li>
          <span class="mono">lo w · lo w e r · lo w e s t</span> — merge 1: <span class="mono">l + o</span>,
          the most frequent pair
        </li>
        <li>
          <span class="mono">low · low e r · low e s t</span> — merge 2: <span class="mono">lo + w</span>
        </li>
        <li>
          <span class="mono">low · low er · low e s t</span> — merge 3: <span class="mono">e + r</span>, and
          so on
        </li>
      </ol>
      <p>
        To encode new text, the merges are replayed in the order they were learned. Frequent words end up as
        one token, rare words as several pieces, and nothing is ever “unknown”. The “merged from” column of
        the vocabulary browser below shows each learned merge, in order.
      </p>
    </div>
  );
}
