"""Scheduled jobs (`@app.schedule` in app.py imports each inside its handler)."""
