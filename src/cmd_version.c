/*
 * cmd_version.c - `qhil version`: the version of the command and library.
 */
#include <stdio.h>

#include <qhil/qhil.h>

#include "qhil-cli.h"

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("qhil %s\n", qhil_version());
    return QHIL_EXIT_OK;
}
