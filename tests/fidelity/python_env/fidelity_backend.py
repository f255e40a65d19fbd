"""A matplotlib backend for the reference runs: Agg, recording every figure python would show.

A figure is recorded when a window would open for it: ``plt.show()`` for every open figure
(after which they close, as they do once their windows are closed) and ``fig.show()`` for one;
a shown figure that did not change since is not recorded again (its window is already open).
Each record is a JSON line ``{"width", "height", "line"}`` in the file ``$FIDELITY_FIGURES``:
the PNG's size in pixels and the line of the script's top-level statement that showed it.
"""

import io
import json
import os
import struct
import sys
import traceback
import weakref

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_shown = weakref.WeakSet()


def _statement_line():
    script = os.path.abspath(sys.argv[0])
    for frame in traceback.extract_stack():
        if frame.filename == script:
            return frame.lineno  # the outermost frame of the script: its top-level statement
    return None


def _record(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi="figure", bbox_inches=None)
    figure.stale = False
    width, height = struct.unpack(">II", buffer.getvalue()[16:24])
    _shown.add(figure)
    with open(os.environ["FIDELITY_FIGURES"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"width": width, "height": height, "line": _statement_line()}) + "\n")


class FigureManager(FigureManagerBase):
    def show(self):
        _record(self.canvas.figure)


def new_figure_manager_given_figure(num, figure):
    return FigureManager(FigureCanvasAgg(figure), num)


def new_figure_manager(num, *args, FigureClass=Figure, **kwargs):
    return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))


def show(*args, **kwargs):
    for manager in Gcf.get_all_fig_managers():
        figure = manager.canvas.figure
        if figure in _shown and not figure.stale:
            continue
        _record(figure)
    Gcf.destroy_all()


FigureCanvas = FigureCanvasAgg
