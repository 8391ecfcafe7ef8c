/*
 * lava_pattern.h - a qhil console pattern rewritten for LAVA, whose
 * pexpect matches Python 3 re patterns on a pty that turns every LF into
 * CR LF; not installed.  The rules are in lava_pattern.c and
 * docs/lava-patterns.md.
 */
#ifndef QHIL_LAVA_PATTERN_H
#define QHIL_LAVA_PATTERN_H

/*
 * pattern: a qhil console pattern (PCRE2, compiled with PCRE2_MULTILINE).
 * *out: the Python 3 re pattern (malloc'ed, caller frees) that, searched
 * with re.DOTALL in a pexpect buffer fed the same bytes with every LF
 * turned into CR LF, matches where qhil's matches, starting with "(?m)".
 * QHIL_EUNSUPPORTED with *why (a static string naming the construct and
 * why) when it cannot be translated exactly; QHIL_ENOMEM.  On failure
 * *out is NULL.  Pure computation: never blocks.
 */
int qhil_lava_pattern(const char *pattern, char **out, const char **why);

#endif
