/*
 * version.c - the library's version, from the build (qhil-config.h), so
 * that a program can tell which libqhil it was linked against at run time.
 */
#include <qhil/qhil.h>

#include "qhil-config.h"

const char *qhil_version(void)
{
    return QHIL_VERSION;
}
