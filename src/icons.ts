/**
 * The CARTO mark used by the sidebar tab, the status bar and the settings editor. Its shapes carry
 * `jp-icon3` so every theme recolors them like JupyterLab's own icons.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="12" cy="12" r="3.2"/>
    <path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2.2a7.8 7.8 0 1 1 0 15.6 7.8 7.8 0 0 1 0-15.6z"/>
  </g>
</svg>`;

export const cartoIcon = new LabIcon({
  name: 'jupyterlab-carto-credentials:carto',
  svgstr
});
