/*
 * xmltext.h - the library's one XML text filter, shared by the JUnit
 * writer (report.c) and the JUnit merger (junit_merge.c) so that both
 * escape exactly alike; not installed.
 */
#ifndef QHIL_XMLTEXT_H
#define QHIL_XMLTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* In an attribute value: tab and line breaks as character references. */
#define QHIL_XML_ATTR (1u << 0)
/* Every CR as "&#13;", even before LF: for text that an XML parser has
 * already read, where a CR can only have come from a reference. */
#define QHIL_XML_KEEP_CR (1u << 1)

/*
 * Length of the valid UTF-8 sequence at s (1 to 4, len > 0), storing its
 * code point in *cp, or 0 when the bytes are not valid UTF-8 (overlong
 * forms, surrogates, code points above U+10FFFF, truncated sequences).
 */
size_t qhil_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/*
 * Write len bytes of s as XML character data: valid UTF-8 that XML 1.0
 * allows is kept, with & < > " ' escaped; anything else becomes U+FFFD.
 * Without QHIL_XML_KEEP_CR, CR LF in text is written as LF (what a parser
 * would make of it) and any other CR as a reference.  Errors show in
 * ferror(out).
 */
void qhil_xml_write(FILE *out, const char *s, size_t len, unsigned flags);

#endif /* QHIL_XMLTEXT_H */
