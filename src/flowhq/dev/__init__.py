"""``flowhq dev``: a local WhatsApp simulator beside the live statechart, and an inspector."""
