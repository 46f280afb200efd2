/**
 * The map widget's model: the kernel owns the state (layers by reference, height).
 */
import { DOMWidgetModel } from '@jupyter-widgets/base';

import { MapState, parseMapState } from './state';
import { MODULE_NAME, MODULE_VERSION_RANGE } from './version';

export class CartoMapModel extends DOMWidgetModel {
  defaults(): ReturnType<DOMWidgetModel['defaults']> {
    return {
      ...super.defaults(),
      _model_name: CartoMapModel.model_name,
      _model_module: CartoMapModel.model_module,
      _model_module_version: CartoMapModel.model_module_version,
      _view_name: CartoMapModel.view_name,
      _view_module: CartoMapModel.view_module,
      _view_module_version: CartoMapModel.view_module_version,
      layers: [],
      height: 400
    };
  }

  /** The layers and height, validated; `null` when the kernel sent malformed state. */
  get mapState(): MapState | null {
    return parseMapState({
      layers: this.get('layers'),
      height: this.get('height')
    });
  }

  static model_name = 'CartoMapModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION_RANGE;
  static view_name = 'CartoMapView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION_RANGE;
}
