/** Size limits of the protocol are in UTF-8 bytes; these cut strings without splitting a character. */

/** Splits `text` into pieces of at most `maxBytes` UTF-8 bytes each, in order. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (Buffer.byteLength(text) <= maxBytes) return [text];
  const pieces: string[] = [];
  let piece = '';
  let pieceBytes = 0;
  for (const character of text) {
    const characterBytes = Buffer.byteLength(character);
    if (pieceBytes + characterBytes > maxBytes) {
      pieces.push(piece);
      piece = '';
      pieceBytes = 0;
    }
    piece += character;
    pieceBytes += characterBytes;
  }
  if (piece) pieces.push(piece);
  return pieces;
}

/** The longest start of `text` that fits in `maxBytes`. */
export function firstUtf8Bytes(text: string, maxBytes: number): string {
  return splitUtf8(text, maxBytes)[0] ?? '';
}

/** The longest end of `text` that fits in `maxBytes`. */
export function lastUtf8Bytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const characters = Array.from(text);
  let bytes = 0;
  let start = characters.length;
  while (start > 0) {
    const characterBytes = Buffer.byteLength(characters[start - 1]!);
    if (bytes + characterBytes > maxBytes) break;
    bytes += characterBytes;
    start -= 1;
  }
  return characters.slice(start).join('');
}
