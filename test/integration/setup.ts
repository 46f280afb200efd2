// @jupyterlab/services logs every websocket it opens with console.debug; keep the report readable.
console.debug = () => undefined;
