"""chat-engagement: Rocket.Chat Engagement Dashboard numbers from session exports.

`from pipelines import open_lake` gives the lake to a notebook (pipelines/notebook.py); importing
the package itself stays light (the command line imports it).
"""

__version__ = "0.1.0"


def open_lake(path="data/lake", out="data/out"):
    """The lake at `path` as a notebook sees it: trend, explain, sql, weekly_data, status."""
    from pipelines.notebook import open_lake as opened

    return opened(path, out)
