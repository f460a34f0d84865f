"""Code every channel shares (issue 13 moves the rest of it here)."""
