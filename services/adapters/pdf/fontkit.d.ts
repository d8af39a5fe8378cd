/** The part of fontkit (pdfkit's font engine, no types of its own) packets use. */
declare module 'fontkit' {
  export interface FontkitFont {
    postscriptName: string;
    layout(text: string): unknown;
  }
  export function create(buffer: Uint8Array, postscriptName?: string): FontkitFont;
}
