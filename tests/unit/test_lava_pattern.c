/*
 * test_lava_pattern.c - qhil console patterns as LAVA's pexpect must see
 * them: a table of patterns and their exact translations, and of patterns
 * that must be refused with the reason.  What the translations match is
 * checked against PCRE2 and Python's re by tests/lava/pattern-diff.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include <qhil/error.h>

#include "lava_pattern.h"

#define HEAD "(?m)(?a:"

/* pattern -> Python pattern between "(?m)(?a:" and ")". */
static const struct {
    const char *in, *out;
} translations[] = {
    /* LF is CR LF; a CR of the guest's own is followed, not by LF. */
    {"\\nU-Boot [^\\r\\n]*\\r\\n",
     "(?:\\r\\n)U-Boot [^\\n\\r]*(?:\\r(?=[^\\n]))(?:\\r\\n)"},
    {"a\nb", "a(?:\\r\\n)b"},
    {"\\x{0A}\\x{a}\\012\\x0a", "(?:\\r\\n)(?:\\r\\n)(?:\\r\\n)(?:\\r\\n)"},
    {"\\n+\\n{2}", "(?:\\r\\n)+(?:\\r\\n){2}"},
    {"\r", "(?:\\r(?=[^\\n]))"},
    /* Anchors: a buffer boundary can only make them fail. */
    {"^abort\\r?$", "(?<=\\n)(?=[\\s\\S])abort(?:\\r(?=[^\\n]))?(?=\\r\\n)"},
    {"login: $", "login: (?=\\r\\n)"},
    {"\\bx\\B", "(?<=[\\s\\S])\\b(?=[\\s\\S])x(?<=[\\s\\S])\\B(?=[^\\n])"},
    /* Dot, \N and classes as sets of qhil's bytes. */
    {".", "(?:\\r(?=[^\\n])|[^\\n\\r])"},
    {"\\N", "(?:\\r(?=[^\\n])|[^\\n\\r])"},
    {"(?s).", "(?:\\r\\n|\\r(?=[^\\n])|[^\\n\\r])"},
    {"(?s)(?-s).", "(?:\\r(?=[^\\n])|[^\\n\\r])"},
    {"[^a]", "(?:\\r\\n|\\r(?=[^\\n])|[^\\n\\ra])"},
    {"\\s", "(?:\\r\\n|\\r(?=[^\\n])|[\\t\\x0b\\x0c ])"},
    {"\\S+\\d{2,}\\w", "[^\\t-\\r ]+[0-9]{2,}[0-9A-Z_a-z]"},
    {"[\\d\\n]", "(?:\\r\\n|[0-9])"},
    {"[\\n]", "(?:\\r\\n)"},
    {"[]a-c-]", "[\\x2d\\x5da-c]"},
    {"[\\b\\x41-\\x43]", "[\\x08A-C]"},
    /* (?i) to the end of its group, across the later branches. */
    {"(?i)u-b", "[Uu]-[Bb]"},
    {"a(?i)b|c", "a[Bb]|[Cc]"},
    {"(a(?i)b|c)d", "(a[Bb]|[Cc])d"},
    {"(?i:x)X", "(?:[Xx])X"},
    {"(?i)[a-c]", "[A-Ca-c]"},
    {"(?i)[^a]", "(?:\\r\\n|\\r(?=[^\\n])|[^\\n\\rAa])"},
    {"(?im-s)x", "[Xx]"},
    /* Names and references. */
    {"(?<n>a)(?P=n)\\k<n>\\k{n}\\g{n}\\k'n'",
     "(?P<n>a)(?:(?P=n))(?:(?P=n))(?:(?P=n))(?:(?P=n))(?:(?P=n))"},
    {"(?'n'a)(?P<m>b)", "(?P<n>a)(?P<m>b)"},
    {"(a)\\1\\g1\\g{1}\\g{-1}\\g-1", "(a)(?:\\1)(?:\\1)(?:\\1)(?:\\1)(?:\\1)"},
    {"(?i)(a)\\1", "([Aa])(?i:\\1)"},
    /* Quoting, escapes, quantifiers, groups. */
    {"\\Qa.\\n\\E+", "a\\.\\\\n+"},
    {"\\Q\nx", "(?:\\r\\n)x"},
    {"a\\Q\\E+\\E", "a+"},
    {"\\e\\a\\t\\f\\cA\\ca\\x7f\\0\\07",
     "\\x1b\\x07\\t\\x0c\\x01\\x01\\x7f\\x00\\x07"},
    {"\\o{101}\\.\\#\\ ", "A\\.# "},
    {"x{,3}a{x}b{2", "x\\{,3\\}a\\{x\\}b\\{2"},
    /* Possessive as atomic: see parse_quant. */
    {"a{2,3}?b{4,}+c{5}", "a{2,3}?(?>b{4,})c{5}"},
    {"a++b*?c?+", "(?>a+)b*?(?>c?)"},
    {"(ab|c)*+\\n++", "(?>(ab|c)*)(?>(?:\\r\\n)+)"},
    {"(?>a)(?:b)(?#c)d", "(?>a)(?:b)d"},
    /* Lookarounds: fixed-width branches, read-boundary guards. */
    {"(?=a)(?!bc)", "(?=a)(?!bc)(?=[\\s\\S]{2})"},
    {"(?!\\n)", "(?!(?:\\r\\n))(?=[\\s\\S]{2})"},
    {"(?<=a|bc)x", "(?:(?<=a)|(?<=bc))x"},
    {"(?<!a|\\n)x", "(?:(?<!a)(?<!(?:\\r\\n))(?<=[\\s\\S]{2}))x"},
    {"(?<=\\n)x", "(?:(?<=(?:\\r\\n)))x"},
    /* UTF-8 as is, outside classes and unrepeated; all bytes above 0x7f
     * are all characters above it. */
    {"[^\\x00-\\x7f]", "[^\\x00-\\x7f]"},
    {"caf\xc3\xa9!", "caf\xc3\xa9!"},
    {"", ""},
};

static void test_translations(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(translations) / sizeof(translations[0]); i++) {
        const char *why = "unset";
        char *out = (char *)1;
        char *want = NULL;
        int rc = qhil_lava_pattern(translations[i].in, &out, &why);

        if (rc != 0) {
            fail_msg("%s: refused: %s", translations[i].in, why);
        }
        assert_null(why);
        assert_true(asprintf(&want, HEAD "%s)", translations[i].out) > 0);
        if (strcmp(out, want)) {
            fail_msg("%s:\n  got  %s\n  want %s", translations[i].in, out,
                     want);
        }
        free(want);
        free(out);
    }
}

/* pattern -> a word of the reason it is refused for. */
static const struct {
    const char *in, *why;
} refusals[] = {
    {"\\Aboot", "\\A"},
    {"boot\\z", "\\z"},
    {"boot\\Z", "\\Z"},
    {"\\Gx", "\\G"},
    {"\\h", "PCRE2-only"},
    {"\\H", "PCRE2-only"},
    {"\\v", "VT in Python"},
    {"\\V", "PCRE2-only"},
    {"\\R", "PCRE2-only"},
    {"a\\Kb", "\\K"},
    {"\\X", "PCRE2-only"},
    {"\\C", "PCRE2-only"},
    {"\\p{L}", "Unicode properties"},
    {"\\N{U+41}", "\\N{"},
    {"\\y", "escape"},
    {"\\101", "octal"},
    {"\\10", "octal"},
    {"\\xff", "above 0x7f"},
    {"\\x{100}", "\\x{"},
    {"\\x", "hex digits"},
    {"\\o{777}", "\\o{"},
    {"\\c\x01", "\\c"},
    {"[[:alpha:]]", "POSIX"},
    {"[[=a=]]", "POSIX"},
    {"[\\h]", "PCRE2-only"},
    {"[\\v]", "VT in Python"},
    {"[\\p{L}]", "Unicode"},
    {"[\\1]", "octal"},
    {"[\\Qa\\E]", "escape in a class"},
    {"[\\d-z]", "range from a class escape"},
    {"[z-a]", "range"},
    {"[\\x80-\\xff]", "above 0x7f"},
    {"[\xc3\xa9]", "non-ASCII character in a class"},
    {"[abc", "without its ]"},
    {"(*UTF)x", "(*VERB)"},
    {"(*UCP)\\w", "(*VERB)"},
    {"(*CRLF)x", "(*VERB)"},
    {"(?|(a)|(b))", "PCRE2-only"},
    {"(a)(?1)", "PCRE2-only"},
    {"(?R)", "PCRE2-only"},
    {"(?&n)", "PCRE2-only"},
    {"(?(1)a|b)", "PCRE2-only"},
    {"(?C1)", "PCRE2-only"},
    {"(?P>n)", "recursion"},
    {"(?x) a", "(?x)"},
    {"(?U)a+", "PCRE2-only"},
    {"(?n)(a)", "PCRE2-only"},
    {"(?J)(?<a>x)", "PCRE2-only"},
    {"(?^)x", "PCRE2-only"},
    {"(?-m)^x", "multiline"},
    {"(?i-s-m)", "two -"},
    {"\\g<1>", "subroutine"},
    {"\\g'n'", "subroutine"},
    {"\\g{+1}(a)", "forward"},
    {"\\k", "without a name"},
    {"(a\\1)", "not closed yet"},
    {"\\2(a)(b)", "not closed yet"},
    {"(a)\\g{-2}", "not closed yet"},
    {"\\k<n>(?<n>a)", "not defined before"},
    {"(?<n>a)(?<n>b)", "used twice"},
    {"(?<1n>a)", "start with a letter"},
    {"(?<n>a", "without its )"},
    {"a)", "without its ("},
    {"(?#x", "comment"},
    {"(?<=a|bc\\n?)x", "fixed width"},
    {"(?<=\\s)x", "fixed width"},
    {"(?<=(?s).)x", "fixed width"},
    {"(?<=[^a])x", "fixed width"},
    {"(a)(?<=\\1)x", "lookbehind"},
    {"x(?!.*y)", "unbounded"},
    {"x(?!\\s+y)", "unbounded"},
    {"^*", "after an assertion"},
    {"$+", "after an assertion"},
    {"\\b?", "after an assertion"},
    {"(?=a)*", "after an assertion"},
    {"*a", "after an assertion or nothing"},
    {"a|*", "after an assertion or nothing"},
    {"a(?i)+", "after an assertion or nothing"},
    {"a**", "after an assertion or nothing"},
    {"a{3,2}", "repeat count"},
    {"a{70000}", "repeat count"},
    {"\xc3\xa9+", "last byte"},
    {"\xe9", "not UTF-8"},
    {"\xc0\xaf", "not UTF-8"},
    {"\xed\xa0\x80", "not UTF-8"},
    {"\\\xc3\xa9", "non-ASCII"},
    {"[^\\x00-\\xff]", "above 0x7f"},
};

static void test_refusals(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const char *why = NULL;
        char *out = (char *)1;
        int rc = qhil_lava_pattern(refusals[i].in, &out, &why);

        if (rc != QHIL_EUNSUPPORTED) {
            fail_msg("%s: rc %d, translated to %s", refusals[i].in, rc,
                     rc == 0 ? out : "?");
        }
        assert_null(out);
        assert_non_null(why);
        if (!strstr(why, refusals[i].why)) {
            fail_msg("%s: reason \"%s\" lacks \"%s\"", refusals[i].in, why,
                     refusals[i].why);
        }
    }
}

/* A translation over the size limit, and groups nested too deep, are
 * refused, not truncated or overflowed. */
static void test_limits(void **state)
{
    size_t n = 200000, i;
    char *big = malloc(n * 2 + 1);
    const char *why = NULL;
    char *out = NULL;
    char deep[200];

    (void)state;
    assert_non_null(big);
    for (i = 0; i < n; i++) {
        memcpy(big + 2 * i, "\\n", 2);
    }
    big[2 * n] = '\0';
    assert_int_equal(qhil_lava_pattern(big, &out, &why), QHIL_EUNSUPPORTED);
    assert_null(out);
    assert_contains(why, "1 MiB");
    free(big);

    memset(deep, '(', 70);
    memset(deep + 70, ')', 70);
    deep[140] = '\0';
    assert_int_equal(qhil_lava_pattern(deep, &out, &why), QHIL_EUNSUPPORTED);
    assert_contains(why, "nested");
    memset(deep, '(', 63);
    memset(deep + 63, ')', 63);
    deep[126] = '\0';
    assert_int_equal(qhil_lava_pattern(deep, &out, &why), 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translations),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
