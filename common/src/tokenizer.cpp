// placeholder, replaced by the loader work
