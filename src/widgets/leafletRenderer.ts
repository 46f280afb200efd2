/**
 * Draws layers with Leaflet on a canvas (fast for 10,000 points). No tile layer: the map works
 * without any reachable basemap and fits its bounds to the data.
 */
import 'leaflet/dist/leaflet.css';
import * as L from 'leaflet';

import type { IDrawnLayer, IMapRenderer } from './rendererTypes';

export class LeafletRenderer implements IMapRenderer {
  constructor(container: HTMLElement) {
    this._map = L.map(container, {
      preferCanvas: true,
      attributionControl: false,
      worldCopyJump: true
    });
    this._renderer = L.canvas({ padding: 0.5 });
    this._map.setView([20, 0], 1, { animate: false });
  }

  draw(layers: ReadonlyArray<IDrawnLayer>): void {
    this._group.clearLayers();
    this._group.remove();
    this._group = L.featureGroup();
    for (const layer of layers) {
      L.geoJSON(layer.data as unknown as GeoJSON.GeoJsonObject, {
        pointToLayer: (_, latlng) =>
          L.circleMarker(latlng, {
            renderer: this._renderer,
            radius: 4,
            color: layer.color,
            weight: 1,
            fillColor: layer.color,
            fillOpacity: 0.7
          }),
        style: () => ({ color: layer.color, weight: 2 })
      }).addTo(this._group);
    }
    this._group.addTo(this._map);
    const bounds = this._group.getBounds();
    if (bounds.isValid()) {
      this._map.fitBounds(bounds, {
        padding: [16, 16],
        maxZoom: 16,
        animate: false
      });
    }
  }

  resize(): void {
    this._map.invalidateSize();
  }

  dispose(): void {
    this._map.remove();
  }

  private readonly _map: L.Map;
  private readonly _renderer: L.Canvas;
  private _group: L.FeatureGroup = L.featureGroup();
}
