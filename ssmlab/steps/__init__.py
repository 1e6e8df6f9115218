"""Build steps, one module per notebook: each finds its resources by tag before creating them."""
