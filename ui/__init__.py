"""The web layer: HTTP API, websocket, console pages and the `tanggap` command line."""
