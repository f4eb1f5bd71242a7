"""The function API: derivatives of plain NumPy functions by tracing."""
