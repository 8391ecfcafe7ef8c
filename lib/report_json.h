/*
 * report_json.h - the JSON report of a run (docs/events.md), for
 * report.c's qhil_report_write; not installed.
 */
#ifndef QHIL_REPORT_JSON_H
#define QHIL_REPORT_JSON_H

#include <stdio.h>

#include <qhil/report.h>

/* Write r as one JSON document to out.  QHIL_ENOMEM or QHIL_EIO. */
int qhil_report_json(const qhil_suite_result *r, FILE *out, qhil_error *err);

#endif /* QHIL_REPORT_JSON_H */
