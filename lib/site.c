/*
 * site.c - the site config: the lab's layer between device type and job.
 *
 * A site file is read once per run and checked strictly (unknown keys,
 * wrong types and bad names are FILE:LINE:COLUMN errors), like a board
 * template.  Everything in it is the operator's: the job (a suite) is
 * untrusted and has no way to name a site file, add to one or change a
 * value in one.  The job layer (job.c) asks the site four things: may
 * this job be trusted, where may device types and images come from,
 * what environment does QEMU get, and which values did the lab set for
 * this device type (the device dictionary), each with the file:line it
 * came from so that `qhil render` and the errors can say so.
 *
 * The policy section is parsed by policy_load.c; the built-in site uses the
 * built-in strict policy, so a run with no site file at all is the
 * strict case, not the permissive one.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qhil/site.h>

#include "internal.h"
#include "policy.h"
#include "runlimits.h"
#include "yamlutil.h"

/* One device dictionary value. */
typedef struct site_var {
    char *device_type;
    char *name;
    char *value;
    char *origin; /* "FILE:LINE" */
} site_var;

struct qhil_site {
    char *path;    /* NULL for the built-in site */
    char *name;    /* "site:" or NULL */
    char *trusted; /* why jobs are trusted, or NULL */
    bool sandbox;
    bool kvm;
    char **device_type_dirs; /* NULL: the caller's defaults */
    char **image_dirs;       /* never NULL */
    char **environment;      /* never NULL */
    qhil_policy *policy;
    site_var *vars;
    size_t n_vars;
    qhil_limits limits; /* zeroed: no caps */
    qhil_limits_origins limit_origins;
};

static const char *const top_keys[] = {
    "site", "trusted", "sandbox", "kvm", "device_types", "image_dirs",
    "environment", "policy", "devices", "limits", NULL,
};

void qhil_site_free(qhil_site *site)
{
    size_t i;

    if (!site) {
        return;
    }
    for (i = 0; i < site->n_vars; i++) {
        free(site->vars[i].device_type);
        free(site->vars[i].name);
        free(site->vars[i].value);
        free(site->vars[i].origin);
    }
    free(site->vars);
    qhil_limits_origins_release(&site->limit_origins);
    qhil_policy_free(site->policy);
    qhil_words_free(site->device_type_dirs);
    qhil_words_free(site->image_dirs);
    qhil_words_free(site->environment);
    free(site->trusted);
    free(site->name);
    free(site->path);
    free(site);
}

static qhil_site *site_new(void)
{
    qhil_site *s = calloc(1, sizeof(*s));

    if (!s) {
        return NULL;
    }
    s->sandbox = true;
    s->image_dirs = calloc(1, sizeof(char *));
    s->environment = calloc(1, sizeof(char *));
    if (!s->image_dirs || !s->environment) {
        qhil_site_free(s);
        return NULL;
    }
    return s;
}

int qhil_site_builtin(qhil_site **out, qhil_error *err)
{
    qhil_site *s = site_new();
    char *cwd = NULL;
    int rc;

    *out = NULL;
    if (!s) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    rc = qhil_policy_strict(&s->policy, err);
    if (rc < 0) {
        qhil_site_free(s);
        return rc;
    }
    /* Your own machine, your own project: images may come from the
     * folder qhil runs in.  A lab's site file names its folders. */
    cwd = get_current_dir_name();
    if (cwd) {
        char **v = realloc(s->image_dirs, 2 * sizeof(*v));

        if (!v) {
            free(cwd);
            qhil_site_free(s);
            return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
        v[0] = cwd;
        v[1] = NULL;
        s->image_dirs = v;
    }
    *out = s;
    return QHIL_EOK;
}

/* A folder named in the site file, absolute against the file's folder. */
static char *site_folder(const char *site_path, const char *dir)
{
    char *out = NULL;
    const char *slash;

    if (dir[0] == '/') {
        return strdup(dir);
    }
    slash = strrchr(site_path, '/');
    if (!slash) {
        char *cwd = get_current_dir_name();

        if (cwd && asprintf(&out, "%s/%s", cwd, dir) < 0) {
            out = NULL;
        }
        free(cwd);
        return out;
    }
    if (site_path[0] != '/') {
        char *cwd = get_current_dir_name();

        if (cwd && asprintf(&out, "%s/%.*s/%s", cwd,
                            (int)(slash - site_path), site_path, dir) < 0) {
            out = NULL;
        }
        free(cwd);
        return out;
    }
    if (asprintf(&out, "%.*s/%s", (int)(slash - site_path), site_path,
                 dir) < 0) {
        out = NULL;
    }
    return out;
}

static int load_dirs(qhil_site *s, qhil_yaml *y, yaml_node_t *node,
                     const char *field, char ***out, qhil_error *err)
{
    size_t n = qhil_yaml_count(node);
    char **v;
    char *sub = NULL;
    char *text = NULL;
    size_t i;
    int rc;

    rc = qhil_yaml_want_sequence(y, node, field, "a list of folders", err);
    if (rc < 0) {
        return rc;
    }
    v = calloc(n + 1, sizeof(*v));
    if (!v) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        yaml_node_t *item = qhil_yaml_item(y, node, i);

        free(sub);
        sub = qhil_field(field, "[%zu]", i);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        rc = qhil_yaml_string(y, item, sub, "a folder", &text, err);
        if (rc < 0) {
            break;
        }
        v[i] = site_folder(s->path, text);
        free(text);
        text = NULL;
        if (!v[i]) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
    }
    free(sub);
    if (rc < 0) {
        qhil_words_free(v);
        return rc;
    }
    qhil_words_free(*out);
    *out = v;
    return QHIL_EOK;
}

static int valid_env_name(const char *s)
{
    size_t i;

    if (!*s || (*s >= '0' && *s <= '9')) {
        return 0;
    }
    for (i = 0; s[i]; i++) {
        if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) {
            return 0;
        }
    }
    return 1;
}

static int load_environment(qhil_site *s, qhil_yaml *y, yaml_node_t *node,
                            qhil_error *err)
{
    size_t n = qhil_yaml_count(node);
    char **v;
    char *sub = NULL;
    char *value = NULL;
    size_t i;
    int rc;

    rc = qhil_yaml_want_mapping(y, node, "environment",
                                "a mapping of variable names to values", err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(y, node, "environment", err);
    }
    if (rc < 0) {
        return rc;
    }
    v = calloc(n + 1, sizeof(*v));
    if (!v) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        yaml_node_t *key;
        yaml_node_t *val;
        const char *name;

        qhil_yaml_pair(y, node, i, &key, &val);
        name = qhil_yaml_scalar(key, NULL);
        free(sub);
        sub = qhil_field("environment.", "%s", name);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        if (!valid_env_name(name)) {
            rc = qhil_yaml_fail(y, key, sub, err, QHIL_EINVAL,
                                "'%s' is not an environment variable name "
                                "(letters, digits and '_')",
                                name);
            break;
        }
        if (qhil_yaml_is_null(val) || (val->type == YAML_SCALAR_NODE &&
                                       !qhil_yaml_scalar(val, NULL)[0])) {
            /* NAME: and NAME: "" both give NAME= */
            value = strdup("");
            rc = value ? 0 : QHIL_ENOMEM;
        } else {
            rc = qhil_yaml_string(y, val, sub, "a value", &value, err);
        }
        if (rc < 0) {
            break;
        }
        if (asprintf(&v[i], "%s=%s", name, value) < 0) {
            v[i] = NULL;
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        free(value);
        value = NULL;
    }
    free(value);
    free(sub);
    if (rc < 0) {
        qhil_words_free(v);
        return rc == QHIL_ENOMEM
                   ? qhil_error_set(err, QHIL_ENOMEM, "out of memory")
                   : rc;
    }
    qhil_words_free(s->environment);
    s->environment = v;
    return QHIL_EOK;
}

/* A device type's name: [A-Za-z0-9._-], not starting with '.' or '-'. */
static int valid_name(const char *s, int capitals)
{
    size_t i;

    if (!*s || *s == '.' || *s == '-') {
        return 0;
    }
    for (i = 0; s[i]; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' ||
              (capitals && c >= 'A' && c <= 'Z'))) {
            return 0;
        }
    }
    return 1;
}

static int load_device(qhil_site *s, qhil_yaml *y, const char *device_type,
                       yaml_node_t *node, const char *field, qhil_error *err)
{
    size_t n = qhil_yaml_count(node);
    site_var *grown;
    char *sub = NULL;
    size_t i;
    int rc;

    rc = qhil_yaml_want_mapping(y, node, field,
                                "a mapping of variable names to values", err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(y, node, field, err);
    }
    if (rc < 0) {
        return rc;
    }
    grown = realloc(s->vars, (s->n_vars + n + 1) * sizeof(*grown));
    if (!grown) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    s->vars = grown;
    for (i = 0; i < n && rc == 0; i++) {
        yaml_node_t *key;
        yaml_node_t *val;
        const char *name;
        site_var *var = &s->vars[s->n_vars];

        memset(var, 0, sizeof(*var));
        qhil_yaml_pair(y, node, i, &key, &val);
        name = qhil_yaml_scalar(key, NULL);
        free(sub);
        sub = qhil_field(field, ".%s", name);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        if (!qhil_name_is_variable(name)) {
            rc = qhil_yaml_fail(y, key, sub, err, QHIL_EINVAL,
                                "'%s' is not a variable name (at most 64 "
                                "lower case letters, digits and '_')",
                                name);
            break;
        }
        rc = qhil_yaml_string(y, val, sub, "a value", &var->value, err);
        if (rc < 0) {
            break;
        }
        var->device_type = strdup(device_type);
        var->name = strdup(name);
        if (asprintf(&var->origin, "%s:%d", s->path, qhil_yaml_line(val)) <
            0) {
            var->origin = NULL;
        }
        s->n_vars++;
        if (!var->device_type || !var->name || !var->origin) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        }
    }
    free(sub);
    return rc;
}

static int load_devices(qhil_site *s, qhil_yaml *y, yaml_node_t *node,
                        qhil_error *err)
{
    size_t n = qhil_yaml_count(node);
    char *sub = NULL;
    size_t i;
    int rc;

    rc = qhil_yaml_want_mapping(y, node, "devices",
                                "a mapping of device types to their values",
                                err);
    if (rc == 0) {
        rc = qhil_yaml_check_unique(y, node, "devices", err);
    }
    for (i = 0; i < n && rc == 0; i++) {
        yaml_node_t *key;
        yaml_node_t *val;
        const char *name;

        qhil_yaml_pair(y, node, i, &key, &val);
        name = qhil_yaml_scalar(key, NULL);
        free(sub);
        sub = qhil_field("devices.", "%s", name);
        if (!sub) {
            rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
            break;
        }
        if (!valid_name(name, 1)) {
            rc = qhil_yaml_fail(y, key, sub, err, QHIL_EINVAL,
                                "'%s' is not a device type name", name);
            break;
        }
        rc = load_device(s, y, name, val, sub, err);
    }
    free(sub);
    return rc;
}

static int load_trusted(qhil_site *s, qhil_yaml *y, yaml_node_t *node,
                        qhil_error *err)
{
    bool yes = false;
    int rc = qhil_yaml_bool(y, node, "trusted", &yes, err);

    if (rc < 0 || !yes) {
        return rc;
    }
    if (asprintf(&s->trusted, "%s:%d", s->path, qhil_yaml_line(node)) < 0) {
        s->trusted = NULL;
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    return QHIL_EOK;
}

int qhil_site_load(const char *path, qhil_site **out, qhil_error *err)
{
    qhil_site *s = NULL;
    qhil_yaml y;
    yaml_node_t *root;
    yaml_node_t *node;
    int rc;

    *out = NULL;
    rc = qhil_yaml_load_file(&y, path, err);
    if (rc < 0) {
        goto cleanup;
    }
    s = site_new();
    if (!s || !(s->path = strdup(path))) {
        rc = qhil_error_set(err, QHIL_ENOMEM, "out of memory");
        goto cleanup;
    }
    root = qhil_yaml_root(&y);
    rc = qhil_yaml_check_keys(&y, root, NULL, top_keys, err);
    if (rc < 0) {
        goto cleanup;
    }
    if ((node = qhil_yaml_get(&y, root, "site"))) {
        rc = qhil_yaml_string(&y, node, "site", "a name", &s->name, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "trusted"))) {
        rc = load_trusted(s, &y, node, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "sandbox"))) {
        rc = qhil_yaml_bool(&y, node, "sandbox", &s->sandbox, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "kvm"))) {
        rc = qhil_yaml_bool(&y, node, "kvm", &s->kvm, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "device_types"))) {
        rc = load_dirs(s, &y, node, "device_types", &s->device_type_dirs,
                       err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "image_dirs"))) {
        rc = load_dirs(s, &y, node, "image_dirs", &s->image_dirs, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "environment"))) {
        rc = load_environment(s, &y, node, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "devices"))) {
        rc = load_devices(s, &y, node, err);
    }
    if (rc == 0 && (node = qhil_yaml_get(&y, root, "limits"))) {
        rc = qhil_limits_load(&y, node, path, &s->limits, &s->limit_origins,
                              err);
    }
    if (rc == 0) {
        node = qhil_yaml_get(&y, root, "policy");
        rc = node ? qhil_policy_load(&y, node, "policy", path, &s->policy,
                                     err)
                  : qhil_policy_strict(&s->policy, err);
    }
    if (rc < 0) {
        goto cleanup;
    }
    *out = s;
    s = NULL;

cleanup:
    qhil_site_free(s);
    qhil_yaml_release(&y);
    return rc;
}

const char *qhil_site_name(const qhil_site *site)
{
    return site->path ? site->path : "the built-in site";
}

const char *qhil_site_trusted(const qhil_site *site)
{
    return site->trusted;
}

int qhil_site_trust(qhil_site *site, const char *why, qhil_error *err)
{
    char *copy = strdup(why ? why : "trusted");

    if (!copy) {
        return qhil_error_set(err, QHIL_ENOMEM, "out of memory");
    }
    free(site->trusted);
    site->trusted = copy;
    return QHIL_EOK;
}

bool qhil_site_sandbox(const qhil_site *site)
{
    return site->sandbox;
}

bool qhil_site_kvm(const qhil_site *site)
{
    return site->kvm;
}

const char *const *qhil_site_device_type_dirs(const qhil_site *site)
{
    return (const char *const *)site->device_type_dirs;
}

const char *const *qhil_site_image_dirs(const qhil_site *site)
{
    return (const char *const *)site->image_dirs;
}

const qhil_limits *qhil_site_limits(const qhil_site *site)
{
    return &site->limits;
}

const char *const *qhil_site_environment(const qhil_site *site)
{
    return (const char *const *)site->environment;
}

const char *qhil_site_device_var(const qhil_site *site,
                                 const char *device_type, const char *name,
                                 const char **origin)
{
    size_t i;

    for (i = 0; i < site->n_vars; i++) {
        if (!strcmp(site->vars[i].device_type, device_type) &&
            !strcmp(site->vars[i].name, name)) {
            if (origin) {
                *origin = site->vars[i].origin;
            }
            return site->vars[i].value;
        }
    }
    return NULL;
}

const char *qhil_site_device_var_at(const qhil_site *site,
                                    const char *device_type, size_t i,
                                    const char **origin)
{
    size_t k;

    for (k = 0; k < site->n_vars; k++) {
        if (strcmp(site->vars[k].device_type, device_type)) {
            continue;
        }
        if (i-- == 0) {
            if (origin) {
                *origin = site->vars[k].origin;
            }
            return site->vars[k].name;
        }
    }
    return NULL;
}

const qhil_policy *qhil_site_policy(const qhil_site *site)
{
    return site->policy;
}
