"""Documents: a file store, generated and digitally signed PDFs, public verification, the
citizen's document wallet."""
