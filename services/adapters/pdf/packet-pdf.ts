import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import type { Block, PacketDocument } from '../../domain/packets/document.ts';
import { cjkFont } from './fonts.ts';

/**
 * Lays a packet document out on A4 pages with pdfkit: the CJK font embedded as a subset (so
 * text extracts and prints anywhere), a QR code to the clue, pictures as PNG, the county
 * locator drawn as vectors, page numbers in the footer.
 */

export interface PacketImages {
  before: Buffer | null;
  after: Buffer | null;
  overview: Buffer | null;
  /** County outline and clue position for the locator map (lon/lat). */
  locator: { outline: number[][][][] | null; point: [number, number] } | null;
}

const MARGIN = 42;
const A4 = { width: 595.28, height: 841.89 };
const CONTENT = A4.width - 2 * MARGIN;
const BOTTOM = A4.height - MARGIN - 18;
const GREY = '#555555';
const LIGHT = '#e8ecf0';

type Doc = PDFKit.PDFDocument;
/** Faux bold: glyphs filled and stroked (set strokeColor and lineWidth first). */
const BOLD = { fill: true, stroke: true } as const;
/**
 * OpenType features switched off for every text run: CJK and hex digits need no ligatures or
 * kerning, and shaping every unique word (SHA-256 hashes!) through the font's GSUB/GPOS
 * tables was the largest cost of a packet. `locl` off is safe: the face is the SC one.
 */
const F = {
  features: Object.fromEntries(
    [
      'rvrn',
      'ltra',
      'ltrm',
      'ccmp',
      'locl',
      'rlig',
      'mark',
      'mkmk',
      'calt',
      'clig',
      'liga',
      'rclt',
      'curs',
      'kern',
    ].map((t) => [t, false]),
  ) as unknown as PDFKit.Mixins.TextOptions['features'],
};

function ensure(doc: Doc, height: number): void {
  if (doc.y + height > BOTTOM) doc.addPage();
}

function heading(doc: Doc, text: string): void {
  ensure(doc, 40);
  doc.moveDown(0.6);
  doc.font('regular').fontSize(12).fillColor('#10324a').strokeColor('#10324a').lineWidth(0.35);
  doc.text(text, MARGIN, doc.y, { ...F, width: CONTENT, ...BOLD });
  const y = doc.y + 2;
  doc
    .moveTo(MARGIN, y)
    .lineTo(MARGIN + CONTENT, y)
    .lineWidth(0.6)
    .strokeColor('#10324a')
    .stroke();
  doc.y = y + 6;
  doc.fillColor('black');
}

function fields(doc: Doc, rows: [string, string][]): void {
  const labelW = 168;
  const valueW = CONTENT - labelW - 8;
  doc.fontSize(9.5);
  for (const [label, value] of rows) {
    doc.font('regular');
    const h =
      Math.max(
        doc.heightOfString(label, { ...F, width: labelW }),
        doc.heightOfString(value, { ...F, width: valueW }),
      ) + 4;
    ensure(doc, h);
    const y = doc.y;
    doc
      .font('regular')
      .fillColor(GREY)
      .text(label, MARGIN, y, { ...F, width: labelW });
    doc
      .font('regular')
      .fillColor('black')
      .text(value, MARGIN + labelW + 8, y, { ...F, width: valueW });
    doc.y = y + h;
  }
}

function paragraph(doc: Doc, text: string, small?: boolean): void {
  doc.font('regular').fontSize(small ? 7.5 : 9);
  const h = doc.heightOfString(text, { ...F, width: CONTENT });
  ensure(doc, Math.min(h, 60));
  doc.fillColor(small ? GREY : 'black').text(text, MARGIN, doc.y, { ...F, width: CONTENT });
  doc.fillColor('black');
  doc.moveDown(0.3);
}

function list(doc: Doc, items: string[], small?: boolean): void {
  doc.font('regular').fontSize(small ? 7.5 : 9);
  for (const item of items) {
    const h = doc.heightOfString(item, { ...F, width: CONTENT - 14 });
    ensure(doc, h + 2);
    const y = doc.y;
    doc.text('•', MARGIN, y, { ...F, width: 10 });
    doc.text(item, MARGIN + 14, y, { ...F, width: CONTENT - 14 });
    doc.y = Math.max(doc.y, y + h) + 2;
  }
}

function table(doc: Doc, b: Extract<Block, { type: 'table' }>): void {
  const size = b.small ? 7.5 : 8.5;
  const widths = b.columns.map((c) => c.width * CONTENT);
  const pad = 3;
  const rowHeight = (cells: string[]) => {
    doc.font('regular').fontSize(size);
    return (
      Math.max(...cells.map((t, i) => doc.heightOfString(t || ' ', { ...F, width: widths[i]! - 2 * pad }))) +
      2 * pad
    );
  };
  const drawRow = (cells: string[], header: boolean) => {
    const h = rowHeight(cells);
    const y = doc.y;
    if (header) doc.rect(MARGIN, y, CONTENT, h).fill(LIGHT);
    doc
      .fillColor(header ? '#10324a' : 'black')
      .font('regular')
      .fontSize(size);
    let x = MARGIN;
    cells.forEach((t, i) => {
      doc.text(t, x + pad, y + pad, { ...F, width: widths[i]! - 2 * pad });
      x += widths[i]!;
    });
    doc
      .moveTo(MARGIN, y + h)
      .lineTo(MARGIN + CONTENT, y + h)
      .lineWidth(0.3)
      .strokeColor('#b0b8c0')
      .stroke();
    doc.y = y + h;
  };
  const header = b.columns.map((c) => c.title);
  ensure(doc, rowHeight(header) + (b.rows[0] ? rowHeight(b.rows[0]) : 0));
  drawRow(header, true);
  for (const row of b.rows) {
    const h = rowHeight(row);
    if (doc.y + h > BOTTOM) {
      doc.addPage();
      drawRow(header, true);
    }
    drawRow(row, false);
  }
  doc.moveDown(0.4);
}

function unavailableBox(doc: Doc, x: number, y: number, w: number, h: number, text: string): void {
  doc.rect(x, y, w, h).fillAndStroke('#f2f2f2', '#999999');
  doc
    .fillColor(GREY)
    .font('regular')
    .fontSize(9)
    .text(text, x + 10, y + h / 2 - 10, { ...F, width: w - 20, align: 'center' });
  doc.fillColor('black');
}

function captions(doc: Doc, lines: string[], x: number, y: number, w: number): number {
  doc.font('regular').fontSize(7.5).fillColor('black');
  let yy = y;
  for (const [i, line] of lines.entries()) {
    doc.fillColor(i === 0 ? 'black' : GREY).text(line, x, yy, { ...F, width: w });
    yy = doc.y + 1;
  }
  doc.fillColor('black');
  return yy;
}

function pictures(doc: Doc, b: Extract<Block, { type: 'pictures' }>, images: PacketImages): void {
  const gap = 12;
  const w = (CONTENT - gap) / 2;
  ensure(doc, w + 50);
  const y = doc.y + 4;
  let bottom = y;
  b.items.forEach((item, i) => {
    const x = MARGIN + i * (w + gap);
    const png = images[item.image];
    if (png) {
      doc.image(png, x, y, { width: w, height: w });
      doc.rect(x, y, w, w).lineWidth(0.5).strokeColor('#333333').stroke();
    } else unavailableBox(doc, x, y, w, w, '影像不可用 Imagery unavailable');
    bottom = Math.max(bottom, captions(doc, item.caption, x, y + w + 4, w));
  });
  doc.y = bottom + 6;
}

/** County outline and clue marker drawn in a box (equirectangular, scaled by cos(lat)). */
function locator(doc: Doc, x: number, y: number, size: number, loc: PacketImages['locator']): void {
  doc.rect(x, y, size, size).lineWidth(0.5).fillAndStroke('#f7f9fb', '#333333');
  if (!loc) return;
  const pts: [number, number][] = [loc.point];
  for (const poly of loc.outline ?? [])
    for (const ring of poly) for (const p of ring) pts.push([p[0]!, p[1]!]);
  const k = Math.cos((loc.point[1] * Math.PI) / 180);
  let minX = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const [lon, lat] of pts) {
    minX = Math.min(minX, lon * k);
    maxX = Math.max(maxX, lon * k);
    minY = Math.min(minY, lat);
    maxY = Math.max(maxY, lat);
  }
  const span = Math.max(maxX - minX, maxY - minY, 0.02);
  const inner = size - 16;
  const s = inner / span;
  const ox = x + 8 + (inner - (maxX - minX) * s) / 2;
  const oy = y + 8 + (inner - (maxY - minY) * s) / 2;
  const tx = (lon: number) => ox + (lon * k - minX) * s;
  const ty = (lat: number) => oy + (maxY - lat) * s;
  if (loc.outline) {
    for (const poly of loc.outline)
      for (const ring of poly) {
        ring.forEach(([lon, lat], i) => {
          if (i === 0) doc.moveTo(tx(lon!), ty(lat!));
          else doc.lineTo(tx(lon!), ty(lat!));
        });
        doc.closePath();
      }
    doc.lineWidth(0.8).fillColor('#dfe9d8').strokeColor('#3a5a2a').fillAndStroke();
  }
  const px = tx(loc.point[0]);
  const py = ty(loc.point[1]);
  doc.circle(px, py, 5).lineWidth(1.5).fillColor('#ff2a2a').strokeColor('#ffffff').fillAndStroke();
  doc.fillColor('black');
}

function overview(doc: Doc, b: Extract<Block, { type: 'overview' }>, images: PacketImages): void {
  const mapW = 290;
  const locW = CONTENT - mapW - 12;
  ensure(doc, mapW + 40);
  const y = doc.y + 4;
  if (images.overview) {
    doc.image(images.overview, MARGIN, y, { width: mapW, height: mapW });
    doc.rect(MARGIN, y, mapW, mapW).lineWidth(0.5).strokeColor('#333333').stroke();
  } else unavailableBox(doc, MARGIN, y, mapW, mapW, '周边影像不可用 Surroundings unavailable');
  locator(doc, MARGIN + mapW + 12, y, locW, images.locator);
  doc.y = y + mapW + 4;
  doc.y = captions(doc, b.caption, MARGIN, doc.y, CONTENT) + 4;
}

function checklist(doc: Doc, items: string[]): void {
  doc.font('regular').fontSize(9);
  for (const item of items) {
    const h = doc.heightOfString(item, { ...F, width: CONTENT - 18 }) + 4;
    ensure(doc, h);
    const y = doc.y;
    doc
      .rect(MARGIN, y + 1.5, 8, 8)
      .lineWidth(0.7)
      .strokeColor('#000000')
      .stroke();
    doc.text(item, MARGIN + 16, y, { ...F, width: CONTENT - 18 });
    doc.y = y + h;
  }
  // Space for notes.
  ensure(doc, 70);
  doc
    .font('regular')
    .fontSize(9)
    .text('现场情况记录 Notes:', MARGIN, doc.y + 4, F);
  const top = doc.y + 2;
  for (let i = 0; i < 3; i++)
    doc
      .moveTo(MARGIN, top + 18 * (i + 1))
      .lineTo(MARGIN + CONTENT, top + 18 * (i + 1))
      .lineWidth(0.4)
      .strokeColor('#777777')
      .stroke();
  doc.y = top + 18 * 3 + 8;
}

function signatures(doc: Doc, lines: string[]): void {
  doc.font('regular').fontSize(9);
  for (const label of lines) {
    ensure(doc, 30);
    const y = doc.y + 14;
    doc.text(label, MARGIN, y - 10, { ...F, width: 160 });
    doc.text('签字 Signature', MARGIN + 170, y - 10, { ...F, width: 80 });
    doc
      .moveTo(MARGIN + 240, y)
      .lineTo(MARGIN + 380, y)
      .lineWidth(0.5)
      .strokeColor('#000000')
      .stroke();
    doc.text('日期 Date', MARGIN + 392, y - 10, { ...F, width: 50 });
    doc
      .moveTo(MARGIN + 440, y)
      .lineTo(MARGIN + CONTENT, y)
      .stroke();
    doc.y = y + 8;
  }
}

/** Render the packet PDF (A4). */
export async function renderPacketPdf(
  d: PacketDocument,
  images: PacketImages,
  creationDate: Date,
): Promise<Buffer> {
  const font = await cjkFont();
  const qr = await QRCode.toBuffer(d.url, { errorCorrectionLevel: 'M', margin: 1, width: 360 });
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, bottom: 20, left: MARGIN, right: MARGIN },
    bufferPages: true,
    autoFirstPage: true,
    info: {
      Title: `${d.title} ${d.clueNo}`,
      Author: 'Skypatrol 天巡',
      Subject: d.subtitle,
      Creator: 'Skypatrol 天巡',
      CreationDate: creationDate,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  // One face, parsed once per process (see fonts.ts); headings are emboldened by stroking
  // the glyph outlines instead of embedding a second face.
  doc.registerFont('regular', font.font as unknown as Uint8Array);

  // Page 1 header: title, clue number, QR code to the clue.
  const qrSize = 92;
  const qrX = MARGIN + CONTENT - qrSize;
  doc.image(qr, qrX, MARGIN - 6, { width: qrSize, height: qrSize });
  doc.font('regular').fontSize(6.5).fillColor(GREY);
  doc.text(d.qrCaption, qrX - 30, MARGIN + qrSize - 4, { ...F, width: qrSize + 30, align: 'right' });
  doc.text(d.url, qrX - 60, doc.y, { ...F, width: qrSize + 60, align: 'right' });
  doc.fillColor('#10324a').strokeColor('#10324a').lineWidth(0.5).font('regular').fontSize(20);
  doc.text(d.title, MARGIN, MARGIN, { ...F, width: CONTENT - qrSize - 20, ...BOLD });
  doc
    .font('regular')
    .fontSize(9)
    .fillColor(GREY)
    .text(d.subtitle, { ...F, width: CONTENT - qrSize - 20 });
  doc.moveDown(0.4);
  doc.font('regular').fontSize(16).fillColor('#b01010').strokeColor('#b01010').lineWidth(0.45);
  doc.text(`线索编号 Clue No. ${d.clueNo}`, { ...F, width: CONTENT - qrSize - 20, ...BOLD });
  doc.fillColor('black');
  doc.y = Math.max(doc.y, MARGIN + qrSize + 22) + 4;

  for (const b of d.blocks) {
    switch (b.type) {
      case 'heading':
        heading(doc, b.text);
        break;
      case 'fields':
        fields(doc, b.rows);
        break;
      case 'paragraph':
        paragraph(doc, b.text, b.small);
        break;
      case 'list':
        list(doc, b.items, b.small);
        break;
      case 'table':
        table(doc, b);
        break;
      case 'pictures':
        pictures(doc, b, images);
        break;
      case 'overview':
        overview(doc, b, images);
        break;
      case 'checklist':
        checklist(doc, b.items);
        break;
      case 'signatures':
        signatures(doc, b.lines);
        break;
      case 'pageBreak':
        doc.addPage();
        break;
    }
  }

  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    doc.font('regular').fontSize(7).fillColor(GREY);
    const y = A4.height - MARGIN + 8;
    doc.text(d.footer, MARGIN, y, { ...F, width: CONTENT - 110, lineBreak: false });
    doc.text(`第 ${i + 1} / ${range.count} 页 Page ${i + 1} of ${range.count}`, MARGIN + CONTENT - 110, y, {
      ...F,
      width: 110,
      align: 'right',
      lineBreak: false,
    });
  }
  doc.end();
  return done;
}
