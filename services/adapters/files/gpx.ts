import { xmlEscape } from './kml.ts';

/**
 * GPX 1.1 for handheld GPS units and phone apps: waypoints (the clue's centre, and a point
 * inside it when the centroid falls outside a concave polygon) and the boundary as a track,
 * one segment per ring, each ring closed.
 */
export interface GpxWaypoint {
  lon: number;
  lat: number;
  name: string;
  desc?: string;
  sym?: string;
}

export interface GpxDocument {
  name: string;
  desc?: string;
  time?: Date;
  waypoints: GpxWaypoint[];
  track: { name: string; rings: number[][][] };
}

const coord = (v: number) => v.toFixed(7);

export function toGpx(d: GpxDocument): string {
  const wpts = d.waypoints.map(
    (w) =>
      `<wpt lat="${coord(w.lat)}" lon="${coord(w.lon)}"><name>${xmlEscape(w.name)}</name>` +
      `${w.desc ? `<desc>${xmlEscape(w.desc)}</desc>` : ''}<sym>${xmlEscape(w.sym ?? 'Flag, Red')}</sym></wpt>`,
  );
  const segs = d.track.rings.map(
    (ring) =>
      `<trkseg>${ring.map(([lon, lat]) => `<trkpt lat="${coord(lat!)}" lon="${coord(lon!)}"/>`).join('')}</trkseg>`,
  );
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<gpx version="1.1" creator="Skypatrol 天巡" xmlns="http://www.topografix.com/GPX/1/1">\n' +
    `<metadata><name>${xmlEscape(d.name)}</name>${d.desc ? `<desc>${xmlEscape(d.desc)}</desc>` : ''}` +
    `${d.time ? `<time>${d.time.toISOString()}</time>` : ''}</metadata>\n` +
    `${wpts.join('\n')}\n` +
    `<trk><name>${xmlEscape(d.track.name)}</name>${segs.join('')}</trk>\n</gpx>\n`
  );
}
