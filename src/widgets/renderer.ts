/**
 * What the view needs from a map library; the Leaflet implementation is loaded lazily.
 */
import type { FeatureCollection } from './sqlApi';

export interface IDrawnLayer {
  readonly data: FeatureCollection;
  readonly color: string;
}

export interface IMapRenderer {
  /** Replace every layer and fit the view to the data. */
  draw(layers: ReadonlyArray<IDrawnLayer>): void;
  /** The container changed size. */
  resize(): void;
  dispose(): void;
}

export type RendererFactory = (container: HTMLElement) => IMapRenderer;

/** Layer colours, distinct on light and dark themes. */
export const LAYER_COLORS = [
  '#e6550d',
  '#3182bd',
  '#31a354',
  '#756bb1',
  '#de2d26',
  '#636363'
];

/** The real renderer, loaded only when a map is shown. */
export async function loadLeafletRenderer(): Promise<RendererFactory> {
  const { LeafletRenderer } = await import('./leafletRenderer');
  return container => new LeafletRenderer(container);
}
