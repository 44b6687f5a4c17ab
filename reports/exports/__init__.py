"""A trial's episodes and events as streamed CSV."""
