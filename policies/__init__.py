"""The access policy and its committed reference, as package data: a package so that an
installed server finds its default policy (`importlib.resources`) wherever it runs."""
