"""Walking the disk, recognising media by content, and extracting one record per file."""
