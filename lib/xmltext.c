/*
 * xmltext.c - XML character data from arbitrary bytes (see xmltext.h).
 *
 * Console output is firmware output: any bytes at all.  XML 1.0 cannot
 * carry most control characters even as character references, and a
 * report that does not parse is worse than none, so text passes through
 * one filter: valid UTF-8 that XML allows is kept (with & < > " '
 * escaped), anything else becomes U+FFFD.  The JUnit writer and the
 * JUnit merger both call it, so a merged report escapes a test's text
 * exactly as the report it came from did.
 */
#include <stdint.h>
#include <stdio.h>

#include "xmltext.h"

size_t qhil_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t n;
    size_t i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        *cp = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        *cp = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return n;
}

/* Characters XML 1.0 allows (its Char production). */
static int xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD ||
           (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/*
 * In an attribute, tab and line breaks are written as references so that
 * attribute value normalisation keeps them.  In text, CR LF is written as
 * LF, which is what an XML parser would make of it anyway; any other CR
 * is a reference so that end-of-line handling does not turn it into LF.
 */
void qhil_xml_write(FILE *out, const char *s, size_t len, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    int attr = (flags & QHIL_XML_ATTR) != 0;
    uint32_t cp = 0;
    size_t n;

    while (p < end) {
        n = qhil_utf8_decode(p, (size_t)(end - p), &cp);
        if (n == 0 || !xml_char(cp)) {
            fputs("\xEF\xBF\xBD", out);
            p += n ? n : 1;
            continue;
        }
        switch (cp) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        case '\r':
            /* CR LF reads as a plain line break in the report (the
             * console log on disk keeps every byte); a lone CR stays. */
            if (!attr && !(flags & QHIL_XML_KEEP_CR) && p + 1 < end &&
                p[1] == '\n') {
                break;
            }
            fputs("&#13;", out);
            break;
        case '\n':
            fputs(attr ? "&#10;" : "\n", out);
            break;
        case '\t':
            fputs(attr ? "&#9;" : "\t", out);
            break;
        default:
            fwrite(p, 1, n, out);
            break;
        }
        p += n;
    }
}
