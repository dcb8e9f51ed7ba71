/**
 * The columns of a page's tables whose cells are right-aligned numbers (`td class="num"`) under
 * a header that is not (`th` without `class="num"`): such a header sits left over a column of
 * numbers aligned right. Read from the rendered HTML, one header row per table.
 */
export function misalignedHeaders(body: string): string[] {
  const found: string[] = [];
  for (const table of body.matchAll(/<table[^>]*>([\s\S]*?)<\/table>/g)) {
    const rows = [...(table[1] as string).matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((row) =>
      [...(row[1] as string).matchAll(/<(th|td)([^>]*)>([\s\S]*?)<\/\1>/g)].map((cell) => ({
        tag: cell[1] as string,
        numeric: /\bclass="[^"]*\bnum\b[^"]*"/.test(cell[2] as string),
        text: (cell[3] as string).replace(/<[^>]+>/g, "").trim(),
      })),
    );
    const head = rows.find((row) => row.length > 0 && row.every((cell) => cell.tag === "th"));
    if (head === undefined) continue;
    head.forEach((cell, i) => {
      const numbers = rows.some((row) => row !== head && row[i]?.tag === "td" && row[i]?.numeric === true);
      if (numbers && !cell.numeric) found.push(cell.text);
    });
  }
  return found;
}
