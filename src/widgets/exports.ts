/**
 * The widget module the Jupyter widget manager loads lazily (model and view classes only).
 */
export { CartoLayerModel, CartoMapModel, CartoSourceModel } from './model';
export { CartoMapView } from './view';
