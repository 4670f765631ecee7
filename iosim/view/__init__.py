"""The desktop animation: player, layout, drawing, the window and headless rendering."""
