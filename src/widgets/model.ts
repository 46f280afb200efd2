/**
 * The map widget's models, laid out as ipywidgets-ecosystem map libraries do (ipyleaflet): the
 * map (`CartoMapModel`, a DOM widget) references its layers (`CartoLayerModel`) in `layers`,
 * each layer references its `CartoSourceModel` in `source` (`"IPY_MODEL_<id>"` on the wire,
 * resolved with `unpack_models`). Layers and sources have no view of their own. The kernel owns
 * all of their state, which holds account references only, never a key.
 */
import {
  DOMWidgetModel,
  ISerializers,
  WidgetModel,
  unpack_models
} from '@jupyter-widgets/base';

import { LayerState, MapState, parseLayerState, parseMapState } from './state';
import { MODULE_NAME, MODULE_VERSION_RANGE } from './version';

/** Attributes every widget model has (ipywidgets' `Widget` sends them too). */
const WIDGET_KEYS = new Set([
  '_model_module',
  '_model_module_version',
  '_model_name',
  '_view_module',
  '_view_module_version',
  '_view_name',
  '_view_count'
]);

function modelDefaults(modelName: string): Record<string, unknown> {
  return {
    _model_name: modelName,
    _model_module: MODULE_NAME,
    _model_module_version: MODULE_VERSION_RANGE,
    _view_name: null,
    _view_module: null,
    _view_module_version: ''
  };
}

function isModel(value: unknown, modelName: string): value is WidgetModel {
  return value instanceof WidgetModel && value.get('_model_name') === modelName;
}

/** A table or query with its credentials reference (`Source` in the kernel). */
export class CartoSourceModel extends WidgetModel {
  defaults(): ReturnType<WidgetModel['defaults']> {
    return {
      ...super.defaults(),
      ...modelDefaults(CartoSourceModel.model_name),
      source: '',
      is_query: false,
      credentials_ref: null
    };
  }

  /** `{source, is_query, credentials_ref}`, or `null` when malformed or holding any other key. */
  get layerState(): LayerState | null {
    return Private.sourceState(this);
  }

  static model_name = 'CartoSourceModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION_RANGE;
}

/** One layer of a map (`Layer` in the kernel): a reference to its source model. */
export class CartoLayerModel extends WidgetModel {
  defaults(): ReturnType<WidgetModel['defaults']> {
    return {
      ...super.defaults(),
      ...modelDefaults(CartoLayerModel.model_name),
      source: null
    };
  }

  /** The source model, once resolved; `null` if it is not one. */
  get sourceModel(): WidgetModel | null {
    const source: unknown = this.get('source');
    return isModel(source, CartoSourceModel.model_name) ? source : null;
  }

  /** This layer's source state, validated; `null` when anything is malformed. */
  get layerState(): LayerState | null {
    const source = this.sourceModel;
    return source ? Private.sourceState(source) : null;
  }

  static serializers: ISerializers = {
    ...WidgetModel.serializers,
    source: { deserialize: unpack_models }
  };

  static model_name = 'CartoLayerModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION_RANGE;
}

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

  /** The layer models, once resolved (anything else in `layers` is left out). */
  get layerModels(): WidgetModel[] {
    const layers: unknown = this.get('layers');
    return Array.isArray(layers)
      ? layers.filter((layer: unknown): layer is WidgetModel =>
          isModel(layer, CartoLayerModel.model_name)
        )
      : [];
  }

  /** The models whose changes change the drawing: the layers and their sources. */
  get parts(): WidgetModel[] {
    const parts = new Set<WidgetModel>();
    for (const layer of this.layerModels) {
      parts.add(layer);
      const source: unknown = layer.get('source');
      if (source instanceof WidgetModel) {
        parts.add(source);
      }
    }
    return [...parts];
  }

  /**
   * The layers (followed through their layer and source models) and height, validated; `null`
   * when the kernel sent malformed state.
   */
  get mapState(): MapState | null {
    const layers: unknown = this.get('layers');
    if (!Array.isArray(layers)) {
      return null;
    }
    const flat: Array<LayerState | null> = layers.map((layer: unknown) => {
      if (!isModel(layer, CartoLayerModel.model_name)) {
        return null;
      }
      const source: unknown = layer.get('source');
      return isModel(source, CartoSourceModel.model_name)
        ? Private.sourceState(source)
        : null;
    });
    if (flat.some(layer => layer === null)) {
      return null;
    }
    return parseMapState({ layers: flat, height: this.get('height') });
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    layers: { deserialize: unpack_models }
  };

  static model_name = 'CartoMapModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION_RANGE;
  static view_name = 'CartoMapView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION_RANGE;
}

namespace Private {
  /** A source model's own attributes (not the common widget ones), validated strictly. */
  export function sourceState(model: WidgetModel): LayerState | null {
    const own: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(model.attributes)) {
      if (!WIDGET_KEYS.has(key)) {
        own[key] = value;
      }
    }
    return parseLayerState(own);
  }
}
