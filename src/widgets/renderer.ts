/**
 * The map renderer for the view; the Leaflet implementation is loaded lazily.
 */
import type { RendererFactory } from './rendererTypes';

export type {
  IDrawnLayer,
  IMapRenderer,
  RendererFactory
} from './rendererTypes';

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
