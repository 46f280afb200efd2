/**
 * What the view needs from a map library. Its own module so that the Leaflet implementation and
 * the lazy loader in `renderer.ts` both depend on it, not on each other.
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
