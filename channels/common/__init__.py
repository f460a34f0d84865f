"""Code the channels share; each channel's own folder holds only that channel."""
