/* SPDX-License-Identifier: MIT */
#include "plot.h"

#include <math.h>

#include "axes.h"
#include "figure.h"

enum { WIDTH = 900, PANEL_H = 200, LEGEND_TOP = 10 };

int plot_write(const char *path, const struct plot_chart *chart, struct dashi_error *err)
{
    enum fig_format fmt;
    if (fig_format_of(path, "o", &fmt, err) != 0)
        return -1;
    if (chart->nseries == 0 || chart->nseries > PLOT_MAX_SERIES)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "key", "a plot takes 1 to %d series, got %zu", PLOT_MAX_SERIES,
                          chart->nseries);
    struct axes_series s[PLOT_MAX_SERIES];
    for (size_t i = 0; i < chart->nseries; i++)
        s[i] = (struct axes_series){chart->series[i].x, chart->series[i].y, chart->series[i].n, (int)chart->series[i].job};
    double x_lo, x_hi;
    if (!axes_x_range(s, chart->nseries, &x_lo, &x_hi))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "key", "nothing to plot: the series have no finite points");
    double top = LEGEND_TOP + (double)chart->njobs * AXES_LEGEND_ROW + 8;
    double panel_step = AXES_TOP + PANEL_H + AXES_BOTTOM;
    struct fig fig;
    if (fig_open(&fig, path, "o", WIDTH, (int)ceil(top + (double)chart->nkeys * panel_step), err) != 0)
        return -1;
    int colours[PLOT_MAX_SERIES];
    for (size_t j = 0; j < chart->njobs && j < PLOT_MAX_SERIES; j++)
        colours[j] = (int)j;
    axes_legend(fig.cr, AXES_LEFT, LEGEND_TOP, chart->jobs, colours, chart->njobs);
    for (size_t k = 0; k < chart->nkeys; k++) {
        struct axes_series mine[PLOT_MAX_SERIES];
        size_t n = 0;
        for (size_t i = 0; i < chart->nseries; i++)
            if (chart->series[i].key == k)
                mine[n++] = s[i];
        struct axes_panel p = {AXES_LEFT, top + (double)k * panel_step + AXES_TOP, WIDTH - AXES_LEFT - AXES_RIGHT,
                               PANEL_H, chart->x_label, chart->keys[k], NAN, NULL};
        axes_draw(fig.cr, &p, x_lo, x_hi, mine, n);
    }
    return fig_close(&fig, err);
}
