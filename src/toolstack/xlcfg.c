/*
 * xlcfg.c - the xl.cfg parser: a hand-written lexer and parser into a flat
 * list of entries, typed accessors, disk/vif spec parsers and the domain
 * settings.  Pure apart from xlcfg_parse_file() reading its file.
 */
#include "toolstack/xlcfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES 4096
#define MAX_ITEMS 4096

struct entry {
	char *key;
	unsigned int line;
	enum xlcfg_kind kind;
	char *text;           /* string or number */
	char **items;         /* list */
	unsigned int *lines;  /* list item lines */
	unsigned int nitems;
	bool used;            /* read by xlcfg_domain_get() */
};

struct xlcfg {
	char *name;
	unsigned int last_line; /* the text's; overrides are numbered on */
	struct entry *e;
	unsigned int n, cap;
	char **warn;
	unsigned int nwarn;
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- lexer ----------------------------------------------------------- */

enum tok {
	T_EOF,
	T_NL,   /* newline or ';' */
	T_IDENT,
	T_NUMBER,
	T_STRING,
	T_EQ,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_BAD,  /* error already reported */
};

struct lexer {
	const char *name;
	const char *p, *end;
	unsigned int line;
	/* the current token */
	enum tok tok;
	unsigned int tok_line;
	char *text; /* IDENT, NUMBER, STRING (malloc()ed) */
	const char *tok_start;
	size_t tok_len;
	char *err;
	size_t errlen;
	const char *key; /* for messages: the statement's key */
	bool nomem;
};

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-';
}

/* "name:line: key: " or "name:line: " when no key yet. */
static void __attribute__((format(printf, 2, 3)))
lex_err(struct lexer *lx, const char *fmt, ...)
{
	char msg[XLCFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lx->key)
		set_err(lx->err, lx->errlen, "%s:%u: %s: %s", lx->name,
			lx->tok_line, lx->key, msg);
	else
		set_err(lx->err, lx->errlen, "%s:%u: %s", lx->name,
			lx->tok_line, msg);
}

/* A printable rendering of the current token for messages. */
static const char *tok_desc(struct lexer *lx, char *buf, size_t size)
{
	switch (lx->tok) {
	case T_EOF:
		return "end of file";
	case T_NL:
		return lx->tok_len && lx->tok_start[0] == ';' ? "';'"
							      : "end of line";
	case T_STRING: /* as written, with its own quotes */
		snprintf(buf, size, "%.*s",
			 (int)(lx->tok_len > 40 ? 40 : lx->tok_len),
			 lx->tok_start);
		return buf;
	default:
		snprintf(buf, size, "'%.*s'",
			 (int)(lx->tok_len > 40 ? 40 : lx->tok_len),
			 lx->tok_start);
		return buf;
	}
}

/* Decode a quoted string starting at lx->p (the quote).  0 or -EINVAL. */
static int lex_string(struct lexer *lx)
{
	char q = *lx->p++, *out;
	size_t n = 0;

	out = malloc((size_t)(lx->end - lx->p) + 1);
	if (!out) {
		lx->nomem = true;
		return -ENOMEM;
	}
	while (lx->p < lx->end && *lx->p != q) {
		char c = *lx->p++;

		if (c == '\n') {
			free(out);
			lex_err(lx, "unterminated string");
			return -EINVAL;
		}
		if (c == '\\') {
			if (lx->p >= lx->end)
				break;
			c = *lx->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'a': c = '\a'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'v': c = '\v'; break;
			case '\\': case '\'': case '"': break;
			case 'x': {
				unsigned int v = 0, k;

				for (k = 0; k < 2 && lx->p < lx->end; k++) {
					char h = *lx->p;
					int d = (h >= '0' && h <= '9')   ? h - '0'
						: (h >= 'a' && h <= 'f') ? h - 'a' + 10
						: (h >= 'A' && h <= 'F') ? h - 'A' + 10
									 : -1;
					if (d < 0)
						break;
					v = v * 16 + (unsigned int)d;
					lx->p++;
				}
				if (k == 0) {
					free(out);
					lex_err(lx, "bad escape '\\x' in string");
					return -EINVAL;
				}
				c = (char)v;
				break;
			}
			default:
				free(out);
				lex_err(lx, "bad escape '\\%c' in string", c);
				return -EINVAL;
			}
			if (c == '\0') {
				free(out);
				lex_err(lx, "NUL character in string");
				return -EINVAL;
			}
		} else if (c == '\0') {
			free(out);
			lex_err(lx, "NUL character in string");
			return -EINVAL;
		}
		out[n++] = c;
	}
	if (lx->p >= lx->end) {
		free(out);
		lex_err(lx, "unterminated string");
		return -EINVAL;
	}
	lx->p++; /* closing quote */
	out[n] = '\0';
	lx->text = out;
	return 0;
}

static void lex_next(struct lexer *lx)
{
	free(lx->text);
	lx->text = NULL;
	while (lx->p < lx->end &&
	       (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#') /* a comment, up to the newline */
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	lx->tok_line = lx->line;
	lx->tok_start = lx->p;
	lx->tok_len = 1;
	if (lx->p >= lx->end) {
		lx->tok = T_EOF;
		lx->tok_len = 0;
		return;
	}
	switch (*lx->p) {
	case '\n':
		lx->line++;
		/* fall through */
	case ';':
		lx->p++;
		lx->tok = T_NL;
		return;
	case '=':
		lx->p++;
		lx->tok = T_EQ;
		return;
	case '[':
		lx->p++;
		lx->tok = T_LBRACK;
		return;
	case ']':
		lx->p++;
		lx->tok = T_RBRACK;
		return;
	case ',':
		lx->p++;
		lx->tok = T_COMMA;
		return;
	case '\'':
	case '"': {
		const char *s = lx->p;

		lx->tok = lex_string(lx) < 0 ? T_BAD : T_STRING;
		lx->tok_len = (size_t)(lx->p - s);
		return;
	}
	default:
		break;
	}
	if (is_word(*lx->p)) {
		const char *s = lx->p;

		while (lx->p < lx->end && is_word(*lx->p))
			lx->p++;
		lx->tok_len = (size_t)(lx->p - s);
		lx->text = strndup(s, lx->tok_len);
		if (!lx->text) {
			lx->nomem = true;
			lx->tok = T_BAD;
			return;
		}
		lx->tok = is_ident_start(*s) ? T_IDENT : T_NUMBER;
		return;
	}
	if ((unsigned char)*lx->p >= 0x20 && (unsigned char)*lx->p < 0x7f)
		lex_err(lx, "unexpected character '%c'", *lx->p);
	else
		lex_err(lx, "unexpected byte 0x%02x",
			(unsigned int)(unsigned char)*lx->p);
	lx->tok = T_BAD;
}

/* ---- parser ---------------------------------------------------------- */

static struct entry *find(const struct xlcfg *cfg, const char *key)
{
	unsigned int i;

	for (i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->e[i].key, key))
			return &cfg->e[i];
	return NULL;
}

static void entry_clear(struct entry *e)
{
	unsigned int i;

	free(e->key);
	free(e->text);
	for (i = 0; i < e->nitems; i++)
		free(e->items[i]);
	free(e->items);
	free(e->lines);
}

/* Parse '[' ... ']' into e; the current token is '['. */
static int parse_list(struct lexer *lx, struct entry *e)
{
	unsigned int open_line = lx->tok_line, cap = 0;
	char buf[64];
	bool need_item = true; /* at the start or after a ',' */

	e->kind = XLCFG_LIST;
	for (;;) {
		lex_next(lx);
		if (lx->tok == T_BAD)
			return lx->nomem ? -ENOMEM : -EINVAL;
		if (lx->tok == T_NL)
			continue;
		if (lx->tok == T_EOF) {
			lx->tok_line = open_line;
			lex_err(lx, "unterminated list (missing ']')");
			return -EINVAL;
		}
		if (lx->tok == T_RBRACK)
			return 0; /* a trailing comma is fine */
		if (!need_item) {
			if (lx->tok == T_COMMA) {
				need_item = true;
				continue;
			}
			lex_err(lx, "expected ',' or ']' in list, got %s",
				tok_desc(lx, buf, sizeof(buf)));
			return -EINVAL;
		}
		if (lx->tok == T_LBRACK) {
			lex_err(lx, "nested lists are not supported");
			return -EINVAL;
		}
		if (lx->tok != T_STRING && lx->tok != T_NUMBER) {
			lex_err(lx, "expected a string or number in list, got %s",
				tok_desc(lx, buf, sizeof(buf)));
			return -EINVAL;
		}
		if (e->nitems == cap) {
			char **ni;
			unsigned int *nl;

			if (cap >= MAX_ITEMS) {
				lex_err(lx, "list too long");
				return -EINVAL;
			}
			cap = cap ? cap * 2 : 4;
			ni = realloc(e->items, cap * sizeof(*ni));
			if (ni)
				e->items = ni;
			nl = realloc(e->lines, cap * sizeof(*nl));
			if (nl)
				e->lines = nl;
			if (!ni || !nl)
				return -ENOMEM;
		}
		e->items[e->nitems] = lx->text;
		e->lines[e->nitems++] = lx->tok_line;
		lx->text = NULL;
		need_item = false;
	}
}

static int add_entry(struct xlcfg *cfg, struct entry *e)
{
	if (cfg->n == cfg->cap) {
		struct entry *ne;
		unsigned int cap = cfg->cap ? cfg->cap * 2 : 16;

		ne = realloc(cfg->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		cfg->e = ne;
		cfg->cap = cap;
	}
	cfg->e[cfg->n++] = *e;
	return 0;
}

static int parse_stmt(struct lexer *lx, struct xlcfg *cfg)
{
	struct entry e = {0};
	struct entry *prev;
	char buf[64];
	int rc = -EINVAL;

	lx->key = NULL;
	if (lx->tok != T_IDENT) {
		lex_err(lx, "expected a key, got %s",
			tok_desc(lx, buf, sizeof(buf)));
		return -EINVAL;
	}
	e.key = lx->text;
	lx->text = NULL;
	e.line = lx->tok_line;
	lx->key = e.key;
	lex_next(lx);
	if (lx->tok == T_BAD)
		goto out_bad;
	if (lx->tok != T_EQ) {
		lex_err(lx, "expected '=' after the key, got %s",
			tok_desc(lx, buf, sizeof(buf)));
		goto out;
	}
	prev = find(cfg, e.key);
	if (prev) {
		lx->tok_line = e.line;
		lex_err(lx, "duplicate key (first set on line %u)", prev->line);
		goto out;
	}
	lex_next(lx);
	switch (lx->tok) {
	case T_STRING:
	case T_NUMBER:
		e.kind = lx->tok == T_STRING ? XLCFG_STRING : XLCFG_NUMBER;
		e.text = lx->text;
		lx->text = NULL;
		break;
	case T_LBRACK:
		rc = parse_list(lx, &e);
		if (rc < 0)
			goto out;
		break;
	case T_BAD:
		goto out_bad;
	case T_NL:
	case T_EOF:
		lex_err(lx, "missing value");
		goto out;
	default:
		lex_err(lx, "expected a value (a quoted string, a number or a "
			    "list), got %s",
			tok_desc(lx, buf, sizeof(buf)));
		goto out;
	}
	lex_next(lx);
	if (lx->tok == T_BAD)
		goto out_bad;
	if (lx->tok != T_NL && lx->tok != T_EOF) {
		lex_err(lx, "unexpected %s after the value",
			tok_desc(lx, buf, sizeof(buf)));
		rc = -EINVAL;
		goto out;
	}
	if (cfg->n >= MAX_ENTRIES) {
		lex_err(lx, "too many settings");
		rc = -EINVAL;
		goto out;
	}
	rc = add_entry(cfg, &e);
	if (rc == 0) {
		lx->key = NULL;
		return 0;
	}
	goto out;
out_bad:
	rc = lx->nomem ? -ENOMEM : -EINVAL;
out:
	lx->key = NULL;
	entry_clear(&e);
	return rc;
}

int xlcfg_parse_string(const char *name, const char *text, size_t len,
		       struct xlcfg **out, char *err, size_t errlen)
{
	struct lexer lx = {.name = name, .p = text, .end = text + len,
			   .line = 1, .err = err, .errlen = errlen};
	struct xlcfg *cfg;
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->name = strdup(name))) {
		free(cfg);
		return -ENOMEM;
	}
	lex_next(&lx);
	while (rc == 0) {
		if (lx.tok == T_EOF)
			break;
		if (lx.tok == T_BAD) {
			rc = lx.nomem ? -ENOMEM : -EINVAL;
			break;
		}
		if (lx.tok == T_NL) {
			lex_next(&lx);
			continue;
		}
		rc = parse_stmt(&lx, cfg);
		if (rc == 0)
			lex_next(&lx);
	}
	free(lx.text);
	if (rc == -ENOMEM)
		set_err(err, errlen, "%s: out of memory", name);
	if (rc < 0) {
		xlcfg_free(cfg);
		return rc;
	}
	/* the line count (a final newline starts no line) */
	cfg->last_line = lx.line - (len && text[len - 1] == '\n' ? 1 : 0);
	*out = cfg;
	return 0;
}

int xlcfg_override(struct xlcfg *cfg, const char *stmt, char *err,
		   size_t errlen)
{
	struct xlcfg *one = NULL;
	struct entry *prev;
	unsigned int i;
	int rc;

	if (strchr(stmt, '\n') || !strchr(stmt, '=')) {
		set_err(err, errlen,
			"command line: '%.64s': expected one KEY=VALUE", stmt);
		return -EINVAL;
	}
	rc = xlcfg_parse_string("command line", stmt, strlen(stmt), &one, err,
				errlen);
	if (rc)
		return rc;
	if (one->n != 1) {
		set_err(err, errlen,
			"command line: '%.64s': expected one KEY=VALUE", stmt);
		rc = -EINVAL;
		goto out;
	}
	/* As xl does: the setting is a line after the file's last, and
	 * takes the place of the file's own. */
	cfg->last_line++;
	one->e[0].line = cfg->last_line;
	for (i = 0; i < one->e[0].nitems; i++)
		one->e[0].lines[i] = cfg->last_line;
	prev = find(cfg, one->e[0].key);
	if (prev) {
		entry_clear(prev);
		*prev = one->e[0];
	} else {
		rc = add_entry(cfg, &one->e[0]);
		if (rc)
			goto out;
	}
	memset(&one->e[0], 0, sizeof(one->e[0]));
	one->n = 0;
out:
	xlcfg_free(one);
	return rc;
}

int xlcfg_parse_file(const char *path, struct xlcfg **out, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > XLCFG_MAX_FILE) {
		rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		set_err(err, errlen, "%s: not a regular file of at most %u bytes",
			path, XLCFG_MAX_FILE);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			set_err(err, errlen, "%s: %s", path, strerror(-rc));
			goto out;
		}
		got += (size_t)n;
	}
	rc = xlcfg_parse_string(path, buf, got, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

void xlcfg_free(struct xlcfg *cfg)
{
	unsigned int i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n; i++)
		entry_clear(&cfg->e[i]);
	for (i = 0; i < cfg->nwarn; i++)
		free(cfg->warn[i]);
	free(cfg->warn);
	free(cfg->e);
	free(cfg->name);
	free(cfg);
}

/* ---- accessors ------------------------------------------------------- */

static const char *kind_name(enum xlcfg_kind k)
{
	return k == XLCFG_LIST ? "a list" : k == XLCFG_NUMBER ? "a number"
							      : "a string";
}

bool xlcfg_has(const struct xlcfg *cfg, const char *key, unsigned int *line)
{
	const struct entry *e = find(cfg, key);

	if (e && line)
		*line = e->line;
	return e != NULL;
}

static const struct entry *lookup(const struct xlcfg *cfg, const char *key,
				  char *err, size_t errlen)
{
	const struct entry *e = find(cfg, key);

	if (!e)
		set_err(err, errlen, "%s: %s: not set", cfg->name, key);
	return e;
}

int xlcfg_get_string(const struct xlcfg *cfg, const char *key,
		     const char **out, char *err, size_t errlen)
{
	const struct entry *e = lookup(cfg, key, err, errlen);

	if (!e)
		return -ENOENT;
	if (e->kind == XLCFG_LIST) {
		set_err(err, errlen, "%s:%u: %s: expected a string, got a list",
			cfg->name, e->line, key);
		return -EINVAL;
	}
	*out = e->text;
	return 0;
}

/* Parse a whole decimal or 0x-hex number. 0, -EINVAL or -ERANGE. */
static int parse_num(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	bool any = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (__builtin_mul_overflow(v, base, &v) ||
		    __builtin_add_overflow(v, d, &v))
			return -ERANGE;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*out = v;
	return 0;
}

int xlcfg_get_u64(const struct xlcfg *cfg, const char *key, uint64_t min,
		  uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const struct entry *e = lookup(cfg, key, err, errlen);
	uint64_t v;
	int rc;

	if (!e)
		return -ENOENT;
	if (e->kind == XLCFG_LIST) {
		set_err(err, errlen, "%s:%u: %s: expected an integer, got a list",
			cfg->name, e->line, key);
		return -EINVAL;
	}
	rc = parse_num(e->text, &v);
	if (rc == -EINVAL) {
		set_err(err, errlen, "%s:%u: %s: expected an integer, got '%.64s'",
			cfg->name, e->line, key, e->text);
		return -EINVAL;
	}
	if (rc == -ERANGE || v < min || v > max) {
		set_err(err, errlen,
			"%s:%u: %s: %.64s is out of range (%llu..%llu)",
			cfg->name, e->line, key, e->text,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int xlcfg_get_list(const struct xlcfg *cfg, const char *key,
		   const char *const **items, const unsigned int **lines,
		   unsigned int *n, char *err, size_t errlen)
{
	const struct entry *e = lookup(cfg, key, err, errlen);

	if (!e)
		return -ENOENT;
	if (e->kind != XLCFG_LIST) {
		set_err(err, errlen, "%s:%u: %s: expected a list, got %s",
			cfg->name, e->line, key, kind_name(e->kind));
		return -EINVAL;
	}
	*items = (const char *const *)e->items;
	if (lines)
		*lines = e->lines;
	*n = e->nitems;
	return 0;
}

unsigned int xlcfg_warning_count(const struct xlcfg *cfg)
{
	return cfg->nwarn;
}

const char *xlcfg_warning(const struct xlcfg *cfg, unsigned int i)
{
	return i < cfg->nwarn ? cfg->warn[i] : NULL;
}

static int __attribute__((format(printf, 2, 3)))
add_warning(struct xlcfg *cfg, const char *fmt, ...)
{
	char **nw;
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	nw = realloc(cfg->warn, (cfg->nwarn + 1) * sizeof(*nw));
	if (!nw) {
		free(s);
		return -ENOMEM;
	}
	cfg->warn = nw;
	cfg->warn[cfg->nwarn++] = s;
	return 0;
}

/* ---- disk specifications --------------------------------------------- */

static const char *const disk_formats[] = {"raw", "qcow", "qcow2", "vhd",
					   "qed"};

static bool is_format(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(disk_formats) / sizeof(disk_formats[0]); i++)
		if (strlen(disk_formats[i]) == n && !strncmp(s, disk_formats[i], n))
			return true;
	return false;
}

/* xvd / hd / sd followed by 1-3 letters and an optional partition
 * number 1..15 (sd, xvd) or the d<N>[p<M>] form. */
static bool vdev_valid(const char *v)
{
	size_t letters = 0;
	const char *p;

	if (!strncmp(v, "xvd", 3))
		p = v + 3;
	else if (!strncmp(v, "hd", 2) || !strncmp(v, "sd", 2))
		p = v + 2;
	else if (v[0] == 'd' && v[1] >= '0' && v[1] <= '9') {
		uint64_t n;
		char num[16];
		const char *q = strchr(v, 'p');
		size_t l = q ? (size_t)(q - v - 1) : strlen(v + 1);

		if (l == 0 || l >= sizeof(num) || (v[1] == '0' && l > 1))
			return false;
		memcpy(num, v + 1, l);
		num[l] = '\0';
		if (parse_num(num, &n) < 0 || n > 0xfffff)
			return false;
		if (!q)
			return true;
		return q[1] >= '1' && q[1] <= '9' && parse_num(q + 1, &n) == 0 &&
		       n <= 15;
	} else
		return false;
	while (p[letters] >= 'a' && p[letters] <= 'z')
		letters++;
	if (letters < 1 || letters > 3)
		return false;
	p += letters;
	if (!*p)
		return true;
	{
		uint64_t n;

		return p[0] >= '1' && p[0] <= '9' && parse_num(p, &n) == 0 &&
		       n <= 15;
	}
}

void xlcfg_disk_clear(struct xlcfg_disk *d)
{
	free(d->raw);
	free(d->target);
	free(d->format);
	free(d->vdev);
	free(d->backend);
	free(d->backendtype);
	free(d->script);
	memset(d, 0, sizeof(*d));
}

/* Set *slot to a copy of s[0..n), once. */
static int set_once(char **slot, const char *s, size_t n, const char *what,
		    char *why, size_t whylen)
{
	if (*slot) {
		set_err(why, whylen, "%s given twice", what);
		return -EINVAL;
	}
	*slot = strndup(s, n);
	return *slot ? 0 : -ENOMEM;
}

static int set_access(struct xlcfg_disk *d, bool *access_set, const char *s,
		      size_t n, char *why, size_t whylen)
{
	if (*access_set) {
		set_err(why, whylen, "access given twice");
		return -EINVAL;
	}
	if ((n == 1 && s[0] == 'r') || (n == 2 && !strncmp(s, "ro", 2)))
		d->readonly = true;
	else if ((n == 1 && s[0] == 'w') || (n == 2 && !strncmp(s, "rw", 2)))
		d->readonly = false;
	else {
		set_err(why, whylen, "bad access '%.*s' (expected ro, r, rw or w)",
			(int)n, s);
		return -EINVAL;
	}
	*access_set = true;
	return 0;
}

/* Strip deprecated "<prefix>:" forms off a positional target. */
static int target_prefixes(struct xlcfg_disk *d, const char **s, size_t *n)
{
	bool had_prefix = false;

	for (;;) {
		const char *c = memchr(*s, ':', *n);
		size_t pl;

		if (!c)
			break;
		pl = (size_t)(c - *s);
		if (is_format(*s, pl)) {
			if (!d->format && !(d->format = strndup(*s, pl)))
				return -ENOMEM;
		} else if (pl == 3 && !strncmp(*s, "phy", 3)) {
			if (!d->backendtype && !(d->backendtype = strdup("phy")))
				return -ENOMEM;
		} else if ((pl == 4 && !strncmp(*s, "file", 4)) ||
			   (pl == 3 && !strncmp(*s, "tap", 3)) ||
			   (pl == 4 && !strncmp(*s, "tap2", 4)) ||
			   (pl == 3 && !strncmp(*s, "aio", 3))) {
			/* file:, tap:, tap2:, aio: -- raw unless a format
			 * prefix follows */
		} else {
			break;
		}
		had_prefix = true;
		*n -= pl + 1;
		*s = c + 1;
	}
	/* With a prefix the format slot counts as given (so "raw:/x,hda,w"
	 * and "phy:/dev/x,xvda,w" mean target, vdev, access). */
	if (had_prefix && !d->format && !(d->format = strdup("raw")))
		return -ENOMEM;
	return 0;
}

static int disk_positional(struct xlcfg_disk *d, unsigned int *pos,
			   bool *access_set, const char *s, size_t n,
			   char *why, size_t whylen)
{
	int rc;

	/* Skip slots already filled by name (or by a deprecated prefix). */
	for (;;) {
		if (*pos == 0 && d->target)
			(*pos)++;
		else if (*pos == 1 && d->format)
			(*pos)++;
		else if (*pos == 2 && d->vdev)
			(*pos)++;
		else if (*pos == 3 && *access_set)
			(*pos)++;
		else
			break;
	}
	switch ((*pos)++) {
	case 0:
		rc = target_prefixes(d, &s, &n);
		if (rc < 0)
			return rc;
		return set_once(&d->target, s, n, "target", why, whylen);
	case 1:
		if (n == 0)
			return set_once(&d->format, "raw", 3, "format", why,
					whylen);
		if (!is_format(s, n)) {
			set_err(why, whylen,
				"bad format '%.*s' (expected raw, qcow, qcow2, "
				"vhd or qed)",
				(int)n, s);
			return -EINVAL;
		}
		return set_once(&d->format, s, n, "format", why, whylen);
	case 2: {
		const char *c = memchr(s, ':', n);

		/* Deprecated "hdc:cdrom". */
		if (c && (size_t)(s + n - c - 1) == 5 && !strncmp(c + 1, "cdrom", 5)) {
			d->cdrom = true;
			n = (size_t)(c - s);
		} else if (c && (size_t)(s + n - c - 1) == 4 &&
			   !strncmp(c + 1, "disk", 4)) {
			n = (size_t)(c - s);
		}
		return set_once(&d->vdev, s, n, "vdev", why, whylen);
	}
	case 3:
		if (n == 0)
			return 0;
		return set_access(d, access_set, s, n, why, whylen);
	default:
		set_err(why, whylen, "too many positional parameters at '%.*s'",
			(int)n, s);
		return -EINVAL;
	}
}

int xlcfg_parse_disk(const char *spec, struct xlcfg_disk *out, char *why,
		     size_t whylen)
{
	struct xlcfg_disk d = {0};
	const char *p = spec;
	unsigned int pos = 0;
	bool access_set = false;
	int rc = -ENOMEM;

	d.raw = strdup(spec);
	if (!d.raw)
		goto fail;
	while (*p) {
		const char *end, *eq;
		size_t n, kl;

		while (*p == ' ' || *p == '\t')
			p++;
		/* target= takes the rest, commas included. */
		if (!strncmp(p, "target=", 7)) {
			rc = set_once(&d.target, p + 7, strlen(p + 7), "target",
				      why, whylen);
			if (rc < 0)
				goto fail;
			break;
		}
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		n = (size_t)(end - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		eq = memchr(p, '=', n);
		rc = -EINVAL;
		if (eq) {
			const char *v = eq + 1;
			size_t vl = n - (size_t)(v - p);

			kl = (size_t)(eq - p);
#define KEY(k) (kl == strlen(k) && !strncmp(p, k, kl))
			if (KEY("format")) {
				if (!is_format(v, vl)) {
					set_err(why, whylen,
						"bad format '%.*s' (expected raw, "
						"qcow, qcow2, vhd or qed)",
						(int)vl, v);
					goto fail;
				}
				rc = set_once(&d.format, v, vl, "format", why,
					      whylen);
			} else if (KEY("vdev")) {
				rc = set_once(&d.vdev, v, vl, "vdev", why, whylen);
			} else if (KEY("access")) {
				rc = set_access(&d, &access_set, v, vl, why,
						whylen);
			} else if (KEY("devtype")) {
				if (vl == 5 && !strncmp(v, "cdrom", 5))
					d.cdrom = true;
				else if (!(vl == 4 && !strncmp(v, "disk", 4))) {
					set_err(why, whylen,
						"bad devtype '%.*s' (expected "
						"disk or cdrom)",
						(int)vl, v);
					goto fail;
				}
				rc = 0;
			} else if (KEY("backend")) {
				rc = set_once(&d.backend, v, vl, "backend", why,
					      whylen);
			} else if (KEY("backendtype")) {
				if (!((vl == 3 && !strncmp(v, "phy", 3)) ||
				      (vl == 5 && !strncmp(v, "qdisk", 5)) ||
				      (vl == 3 && !strncmp(v, "tap", 3)))) {
					set_err(why, whylen,
						"bad backendtype '%.*s' (expected "
						"phy, qdisk or tap)",
						(int)vl, v);
					goto fail;
				}
				rc = set_once(&d.backendtype, v, vl,
					      "backendtype", why, whylen);
			} else if (KEY("script")) {
				rc = set_once(&d.script, v, vl, "script", why,
					      whylen);
			} else {
				set_err(why, whylen, "unknown parameter '%.*s'",
					(int)kl, p);
				goto fail;
			}
#undef KEY
		} else if ((n == 5 && !strncmp(p, "cdrom", 5))) {
			d.cdrom = true;
			rc = 0;
		} else if ((n == 7 && !strncmp(p, "discard", 7)) ||
			   (n == 10 && !strncmp(p, "no-discard", 10)) ||
			   (n == 14 && !strncmp(p, "direct-io-safe", 14)) ||
			   (n == 7 && !strncmp(p, "trusted", 7)) ||
			   (n == 9 && !strncmp(p, "untrusted", 9))) {
			rc = 0; /* accepted flags pvkit has no use for */
		} else {
			rc = disk_positional(&d, &pos, &access_set, p, n, why,
					     whylen);
		}
		if (rc < 0)
			goto fail;
		p = *end ? end + 1 : end;
	}
	rc = -EINVAL;
	if (!d.vdev || !*d.vdev) {
		set_err(why, whylen, "no vdev given");
		goto fail;
	}
	if (!vdev_valid(d.vdev)) {
		set_err(why, whylen, "bad vdev '%.64s'", d.vdev);
		goto fail;
	}
	if (!d.target && !(d.target = strdup("")))
		goto nomem;
	if (!*d.target && !d.cdrom) {
		set_err(why, whylen, "no target given (only cdroms may be empty)");
		goto fail;
	}
	if (!d.format && !(d.format = strdup("raw")))
		goto nomem;
	if (d.cdrom && !access_set)
		d.readonly = true;
	if (d.cdrom && !d.readonly) {
		set_err(why, whylen, "cdroms are read-only");
		goto fail;
	}
	*out = d;
	return 0;
nomem:
	rc = -ENOMEM;
fail:
	if (rc == -ENOMEM)
		set_err(why, whylen, "out of memory");
	xlcfg_disk_clear(&d);
	return rc;
}

/* ---- vif specifications ---------------------------------------------- */

void xlcfg_vif_clear(struct xlcfg_vif *v)
{
	free(v->raw);
	free(v->bridge);
	free(v->ip);
	free(v->backend);
	free(v->model);
	free(v->script);
	free(v->vifname);
	free(v->type);
	free(v->gatewaydev);
	free(v->accel);
	free(v->forwarddev);
	free(v->vlan);
	free(v->colo);
	memset(v, 0, sizeof(*v));
}

static int parse_mac(const char *s, size_t n, uint8_t mac[6])
{
	unsigned int i;

	if (n != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		char hex[5] = {'0', 'x', s[i * 3], s[i * 3 + 1], 0};
		uint64_t b;

		if ((i < 5 && s[i * 3 + 2] != ':') || parse_num(hex, &b) < 0)
			return -EINVAL;
		mac[i] = (uint8_t)b;
	}
	if (mac[0] & 1)
		return -EINVAL; /* multicast */
	return 0;
}

static int ip_list_valid(const char *s, size_t n)
{
	char buf[64];
	size_t i = 0;

	if (n == 0)
		return -EINVAL;
	while (i < n) {
		size_t j = i;
		struct in_addr a4;
		struct in6_addr a6;

		while (j < n && s[j] != ' ')
			j++;
		if (j == i || j - i >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, s + i, j - i);
		buf[j - i] = '\0';
		if (inet_pton(AF_INET, buf, &a4) != 1 &&
		    inet_pton(AF_INET6, buf, &a6) != 1)
			return -EINVAL;
		i = j + 1;
	}
	return 0;
}

/* A Linux interface name (dev_valid_name): 1-15 characters, none of
 * them '/', ':' or white space, not "." or "..". */
static bool ifname_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 15 || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || (unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Leading decimal digits of s[0..n) as a number in [1, max]: the digits'
 * count, or 0 when there are none or the number is out of range. */
static size_t lead_num(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return 0;
		i++;
	}
	if (i == 0 || v == 0 || v > max)
		return 0;
	*out = v;
	return i;
}

int xlcfg_parse_rate(const char *s, size_t n, uint64_t *bytes_per_s,
		     uint32_t *interval_us, char *why, size_t whylen)
{
	const char *at = memchr(s, '@', n);
	size_t rl = at ? (size_t)(at - s) : n, i;
	uint64_t v, mult = 1, us = XLCFG_VIF_RATE_INTERVAL_US;

	/* RATE: digits, [kKMG], B or b, "/s" */
	i = lead_num(s, rl, UINT32_MAX, &v);
	if (i && i < rl && strchr("kKMG", s[i])) {
		mult = s[i] == 'G' ? 1000000000ull
		       : s[i] == 'M' ? 1000000ull
				     : 1000ull;
		i++;
	}
	if (!i || rl - i != 3 || (s[i] != 'B' && s[i] != 'b') ||
	    s[i + 1] != '/' || s[i + 2] != 's') {
		set_err(why, whylen,
			"bad rate '%.*s' (RATE/s[@INTERVAL]: a number 1-%u "
			"with k, M or G and B or b, e.g. 10Mb/s@50ms)",
			(int)n, s, UINT32_MAX);
		return -EINVAL;
	}
	v *= mult;
	if (s[i] == 'b')
		v /= 8;
	if (v == 0) {
		set_err(why, whylen, "bad rate '%.*s' (less than a byte a second)",
			(int)n, s);
		return -EINVAL;
	}
	if (at) {
		const char *p = at + 1;
		size_t pl = n - rl - 1, k = lead_num(p, pl, UINT32_MAX, &us);
		const char *unit = p + k;
		size_t ul = pl - k;

		if (k && (ul == 0 || (ul == 1 && *unit == 's')))
			mult = 1000000;
		else if (k && ul == 2 && !strncmp(unit, "ms", 2))
			mult = 1000;
		else if (k && ul == 2 && !strncmp(unit, "us", 2))
			mult = 1;
		else
			k = 0;
		if (!k || __builtin_mul_overflow(us, mult, &us) ||
		    us > UINT32_MAX) {
			set_err(why, whylen,
				"bad rate interval '%.*s' in '%.*s' (1 us to "
				"%u s, as NUMBER[us|ms|s])",
				(int)pl, p, (int)n, s, UINT32_MAX / 1000000);
			return -EINVAL;
		}
	}
	*bytes_per_s = v;
	*interval_us = (uint32_t)us;
	return 0;
}

int xlcfg_parse_vif(const char *spec, struct xlcfg_vif *out, char *why,
		    size_t whylen)
{
	struct xlcfg_vif v = {0};
	const char *p = spec;
	bool trust_set = false;
	int rc = -ENOMEM;

	v.raw = strdup(spec);
	if (!v.raw)
		goto fail;
	while (*p) {
		const char *end, *eq, *val;
		size_t n, kl, vl;

		while (*p == ' ' || *p == '\t')
			p++;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		n = (size_t)(end - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		rc = -EINVAL;
		if (n == 0) {
			p = *end ? end + 1 : end;
			continue;
		}
		eq = memchr(p, '=', n);
		if (!eq && ((n == 7 && !strncmp(p, "trusted", 7)) ||
			    (n == 9 && !strncmp(p, "untrusted", 9)))) {
			if (trust_set) {
				set_err(why, whylen,
					"trusted/untrusted given twice");
				goto fail;
			}
			trust_set = true;
			v.untrusted = n == 9;
			p = *end ? end + 1 : end;
			continue;
		}
		if (!eq) {
			set_err(why, whylen, "expected key=value, got '%.*s'",
				(int)n, p);
			goto fail;
		}
		kl = (size_t)(eq - p);
		val = eq + 1;
		vl = n - kl - 1;
#define KEY(k) (kl == strlen(k) && !strncmp(p, k, kl))
		if (KEY("mac")) {
			if (v.has_mac) {
				set_err(why, whylen, "mac given twice");
				goto fail;
			}
			if (parse_mac(val, vl, v.mac) < 0) {
				set_err(why, whylen,
					"bad mac '%.*s' (expected unicast "
					"xx:xx:xx:xx:xx:xx)",
					(int)vl, val);
				goto fail;
			}
			v.has_mac = true;
			rc = 0;
		} else if (KEY("ip")) {
			if (ip_list_valid(val, vl) < 0) {
				set_err(why, whylen, "bad ip '%.*s'", (int)vl,
					val);
				goto fail;
			}
			rc = set_once(&v.ip, val, vl, "ip", why, whylen);
		} else if (KEY("mtu") || KEY("devid")) {
			bool mtu = KEY("mtu");
			uint64_t num = 0, lo = mtu ? 68 : 0,
				 hi = mtu ? 65535 : XLCFG_VIF_MAX_DEVID;
			char buf[24] = "";

			if (mtu ? v.mtu != 0 : v.has_devid) {
				set_err(why, whylen, "%.*s given twice",
					(int)kl, p);
				goto fail;
			}
			if (vl < sizeof(buf))
				memcpy(buf, val, vl);
			if (vl == 0 || vl >= sizeof(buf) ||
			    parse_num(buf, &num) < 0 || num < lo || num > hi) {
				set_err(why, whylen,
					"bad %.*s '%.*s' (a number, %llu-%llu)",
					(int)kl, p, (int)vl, val,
					(unsigned long long)lo,
					(unsigned long long)hi);
				goto fail;
			}
			if (mtu) {
				v.mtu = (unsigned int)num;
			} else {
				v.devid = (uint32_t)num;
				v.has_devid = true;
			}
			rc = 0;
		} else if (KEY("rate")) {
			if (v.rate_bytes_per_s) {
				set_err(why, whylen, "rate given twice");
				goto fail;
			}
			rc = xlcfg_parse_rate(val, vl, &v.rate_bytes_per_s,
					      &v.rate_interval_us, why, whylen);
		} else if (KEY("bridge") || KEY("backend") || KEY("model") ||
			   KEY("script") || KEY("vifname") || KEY("type") ||
			   KEY("gatewaydev") || KEY("netdev") ||
			   KEY("accel") || KEY("forwarddev") || KEY("vlan")) {
			/* netdev: xl's deprecated name of gatewaydev */
			char **slot = KEY("bridge")       ? &v.bridge
				      : KEY("backend")    ? &v.backend
				      : KEY("model")      ? &v.model
				      : KEY("script")     ? &v.script
				      : KEY("vifname")    ? &v.vifname
				      : KEY("type")       ? &v.type
				      : KEY("accel")      ? &v.accel
				      : KEY("forwarddev") ? &v.forwarddev
				      : KEY("vlan")       ? &v.vlan
							  : &v.gatewaydev;

			if (vl == 0) {
				set_err(why, whylen, "empty %.*s", (int)kl, p);
				goto fail;
			}
			if ((KEY("vifname") || KEY("bridge")) &&
			    !ifname_valid(val, vl)) {
				set_err(why, whylen,
					"bad %.*s '%.*s' (an interface name: "
					"1-15 characters, no '/', ':' or "
					"spaces)",
					(int)kl, p, (int)vl, val);
				goto fail;
			}
			rc = set_once(slot, val, vl, p, why, whylen);
			if (rc == -EINVAL)
				set_err(why, whylen, "%.*s given twice",
					(int)kl, p);
		} else if (kl > 5 && !strncmp(p, "colo_", 5)) {
			/* xl's COLO settings: which one is kept for messages */
			rc = v.colo ? 0
				    : set_once(&v.colo, p, kl, "colo", why,
					       whylen);
		} else {
			set_err(why, whylen, "unknown parameter '%.*s'", (int)kl,
				p);
			goto fail;
		}
#undef KEY
		if (rc < 0)
			goto fail;
		p = *end ? end + 1 : end;
	}
	if (v.type && strcmp(v.type, "vif") && strcmp(v.type, "ioemu")) {
		set_err(why, whylen, "bad type '%s' (expected vif or ioemu)",
			v.type);
		rc = -EINVAL;
		goto fail;
	}
	*out = v;
	return 0;
fail:
	if (rc == -ENOMEM)
		set_err(why, whylen, "out of memory");
	xlcfg_vif_clear(&v);
	return rc;
}

/* ---- the domain ------------------------------------------------------ */

static const char *const action_names[] = {
	[XLCFG_ACTION_DESTROY] = "destroy",
	[XLCFG_ACTION_RESTART] = "restart",
	[XLCFG_ACTION_PRESERVE] = "preserve",
	[XLCFG_ACTION_RENAME_RESTART] = "rename-restart",
	[XLCFG_ACTION_COREDUMP_DESTROY] = "coredump-destroy",
	[XLCFG_ACTION_COREDUMP_RESTART] = "coredump-restart",
	[XLCFG_ACTION_SOFT_RESET] = "soft-reset",
};

const char *xlcfg_action_name(enum xlcfg_action a)
{
	return (unsigned int)a < sizeof(action_names) / sizeof(action_names[0])
		       ? action_names[a]
		       : NULL;
}

const char *xlcfg_type_name(enum xlcfg_type t)
{
	switch (t) {
	case XLCFG_TYPE_PV:
		return "pv";
	case XLCFG_TYPE_PVH:
		return "pvh";
	case XLCFG_TYPE_HVM:
		return "hvm";
	}
	return NULL;
}

void xlcfg_domain_free(struct xlcfg_domain *d)
{
	unsigned int i;

	if (!d)
		return;
	free(d->name);
	free(d->kernel);
	free(d->ramdisk);
	free(d->cmdline);
	for (i = 0; i < d->ndisks; i++)
		xlcfg_disk_clear(&d->disks[i]);
	free(d->disks);
	for (i = 0; i < d->nvifs; i++)
		xlcfg_vif_clear(&d->vifs[i]);
	free(d->vifs);
	free(d);
}

/* Mark key used and copy its string into *out (NULL when unset). */
static int dom_string(struct xlcfg *cfg, const char *key, char **out,
		      char *err, size_t errlen)
{
	struct entry *e = find(cfg, key);
	const char *s;
	int rc;

	if (!e)
		return 0;
	e->used = true;
	rc = xlcfg_get_string(cfg, key, &s, err, errlen);
	if (rc < 0)
		return rc;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int dom_u64(struct xlcfg *cfg, const char *key, uint64_t min,
		   uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	struct entry *e = find(cfg, key);

	if (!e)
		return 0;
	e->used = true;
	return xlcfg_get_u64(cfg, key, min, max, out, err, errlen);
}

/* uuid: 8-4-4-4-12 hexadecimal digits (libxl_uuid_from_string's
 * form), kept in lower case. */
static int dom_uuid(struct xlcfg *cfg, struct xlcfg_domain *d, char *err,
		    size_t errlen)
{
	char *s = NULL;
	unsigned int i, line;
	int rc = dom_string(cfg, "uuid", &s, err, errlen);

	if (rc < 0 || !s)
		return rc;
	for (i = 0; i < 36 && s[i]; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			break;
		d->uuid[i] = (char)tolower((unsigned char)s[i]);
	}
	if (i != 36 || s[i]) {
		xlcfg_has(cfg, "uuid", &line);
		set_err(err, errlen,
			"%s:%u: uuid: '%.64s' is not a UUID "
			"(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
			cfg->name, line, s);
		rc = -EINVAL;
	}
	d->uuid[36] = '\0';
	if (rc)
		d->uuid[0] = '\0';
	free(s);
	return rc;
}

static int dom_action(struct xlcfg *cfg, const char *key,
		      enum xlcfg_action *out, char *err, size_t errlen)
{
	struct entry *e = find(cfg, key);
	const char *s;
	unsigned int i;
	int rc;

	if (!e)
		return 0;
	e->used = true;
	rc = xlcfg_get_string(cfg, key, &s, err, errlen);
	if (rc < 0)
		return rc;
	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (!strcmp(s, action_names[i])) {
			*out = (enum xlcfg_action)i;
			return 0;
		}
	set_err(err, errlen,
		"%s:%u: %s: unknown action '%.64s' (expected destroy, restart, "
		"preserve, rename-restart, coredump-destroy, coredump-restart "
		"or soft-reset)",
		cfg->name, e->line, key, s);
	return -EINVAL;
}

bool xlcfg_name_valid(const char *s)
{
	size_t i, n = strlen(s);
	bool digits = true;

	/* pvkit-hvd keeps 63 characters and the NUL */
	if (n == 0 || n > XLCFG_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '/' || c == '\\' ||
		    c == '\'' || c == '"')
			return false;
		if (c < '0' || c > '9')
			digits = false;
	}
	return !digits; /* a number would read as a domid */
}

/* Mark key used and check it is a list: 0 with *out NULL when unset. */
static int dom_list(struct xlcfg *cfg, const char *key, struct entry **out,
		    char *err, size_t errlen)
{
	struct entry *e = find(cfg, key);

	*out = e;
	if (!e)
		return 0;
	e->used = true;
	if (e->kind != XLCFG_LIST) {
		set_err(err, errlen, "%s:%u: %s: expected a list, got %s",
			cfg->name, e->line, key, kind_name(e->kind));
		return -EINVAL;
	}
	return 0;
}

/* Report a spec parser's failure on item i of e. */
static int item_err(const struct xlcfg *cfg, const struct entry *e,
		    unsigned int i, int rc, const char *why, char *err,
		    size_t errlen)
{
	set_err(err, errlen, "%s:%u: %s: %s in '%.100s'", cfg->name,
		e->lines[i], e->key, why, e->items[i]);
	return rc;
}

static int dom_disks(struct xlcfg *cfg, struct xlcfg_domain *d, char *err,
		     size_t errlen)
{
	struct entry *e;
	char why[256];
	unsigned int i, j;
	int rc = dom_list(cfg, "disk", &e, err, errlen);

	if (rc < 0 || !e)
		return rc;
	d->disks = calloc(e->nitems ? e->nitems : 1, sizeof(*d->disks));
	if (!d->disks)
		return -ENOMEM;
	for (i = 0; i < e->nitems; i++) {
		rc = xlcfg_parse_disk(e->items[i], &d->disks[i], why,
				      sizeof(why));
		if (rc < 0)
			return item_err(cfg, e, i, rc, why, err, errlen);
		d->disks[i].line = e->lines[i];
		d->ndisks++;
		for (j = 0; j < i; j++)
			if (!strcmp(d->disks[j].vdev, d->disks[i].vdev)) {
				set_err(err, errlen,
					"%s:%u: disk: vdev '%s' used twice "
					"(also on line %u)",
					cfg->name, e->lines[i], d->disks[i].vdev,
					e->lines[j]);
				return -EINVAL;
			}
	}
	return 0;
}

static int dom_vifs(struct xlcfg *cfg, struct xlcfg_domain *d, char *err,
		    size_t errlen)
{
	struct entry *e;
	char why[256];
	unsigned int i, j;
	int rc = dom_list(cfg, "vif", &e, err, errlen);

	if (rc < 0 || !e)
		return rc;
	d->vifs = calloc(e->nitems ? e->nitems : 1, sizeof(*d->vifs));
	if (!d->vifs)
		return -ENOMEM;
	for (i = 0; i < e->nitems; i++) {
		struct xlcfg_vif *v = &d->vifs[i];

		rc = xlcfg_parse_vif(e->items[i], v, why, sizeof(why));
		if (rc < 0)
			return item_err(cfg, e, i, rc, why, err, errlen);
		v->line = e->lines[i];
		/* xl: a vif's devid is its index in the list unless set */
		if (!v->has_devid)
			v->devid = i;
		d->nvifs++;
		for (j = 0; j < i; j++) {
			const struct xlcfg_vif *w = &d->vifs[j];
			const char *what = NULL;
			char val[32];

			if (v->devid == w->devid) {
				what = "devid";
				snprintf(val, sizeof(val), "%u", v->devid);
			} else if (v->has_mac && w->has_mac &&
				   !memcmp(v->mac, w->mac, 6)) {
				what = "mac";
				snprintf(val, sizeof(val),
					 "%02x:%02x:%02x:%02x:%02x:%02x",
					 v->mac[0], v->mac[1], v->mac[2],
					 v->mac[3], v->mac[4], v->mac[5]);
			} else if (v->vifname && w->vifname &&
				   !strcmp(v->vifname, w->vifname)) {
				what = "vifname";
				snprintf(val, sizeof(val), "%s", v->vifname);
			}
			if (what) {
				set_err(err, errlen,
					"%s:%u: vif: %s %s used twice (also on "
					"line %u)",
					cfg->name, v->line, what, val, w->line);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int dom_cmdline(struct xlcfg *cfg, struct xlcfg_domain *d, char *err,
		       size_t errlen)
{
	char *root = NULL, *extra = NULL;
	unsigned int line;
	int rc;

	rc = dom_string(cfg, "cmdline", &d->cmdline, err, errlen);
	if (rc == 0)
		rc = dom_string(cfg, "root", &root, err, errlen);
	if (rc == 0)
		rc = dom_string(cfg, "extra", &extra, err, errlen);
	if (rc < 0)
		goto out;
	if (d->cmdline && (root || extra)) {
		xlcfg_has(cfg, root ? "root" : "extra", &line);
		rc = add_warning(cfg, "%s:%u: %s: ignored in favour of cmdline",
				 cfg->name, line, root ? "root" : "extra");
	} else if (root || extra) {
		if (asprintf(&d->cmdline, "%s%s%s%s", root ? "root=" : "",
			     root ? root : "", root && extra ? " " : "",
			     extra ? extra : "") < 0) {
			d->cmdline = NULL;
			rc = -ENOMEM;
		}
	}
out:
	free(root);
	free(extra);
	return rc;
}

int xlcfg_domain_get(struct xlcfg *cfg, struct xlcfg_domain **out, char *err,
		     size_t errlen)
{
	struct xlcfg_domain *d;
	char *type = NULL;
	uint64_t v;
	unsigned int i;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	/* Start the warnings afresh: this may be called more than once. */
	for (i = 0; i < cfg->nwarn; i++)
		free(cfg->warn[i]);
	cfg->nwarn = 0;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->type = XLCFG_TYPE_PV;
	d->memory_mib = 128;
	d->vcpus = 1;
	d->on_poweroff = XLCFG_ACTION_DESTROY;
	d->on_reboot = XLCFG_ACTION_RESTART;
	d->on_crash = XLCFG_ACTION_DESTROY;
	d->on_watchdog = XLCFG_ACTION_DESTROY;
	d->on_soft_reset = XLCFG_ACTION_SOFT_RESET;

	rc = dom_string(cfg, "name", &d->name, err, errlen);
	if (rc < 0)
		goto out;
	if (!d->name) {
		set_err(err, errlen, "%s: name: required but not set",
			cfg->name);
		rc = -EINVAL;
		goto out;
	}
	if (!xlcfg_name_valid(d->name)) {
		xlcfg_has(cfg, "name", &i);
		set_err(err, errlen,
			"%s:%u: name: bad domain name '%.80s' (" XLCFG_NAME_RULES
			")",
			cfg->name, i, d->name);
		rc = -EINVAL;
		goto out;
	}
	rc = dom_string(cfg, "type", &type, err, errlen);
	if (rc < 0)
		goto out;
	if (type) {
		if (!strcmp(type, "pv"))
			d->type = XLCFG_TYPE_PV;
		else if (!strcmp(type, "pvh"))
			d->type = XLCFG_TYPE_PVH;
		else if (!strcmp(type, "hvm"))
			d->type = XLCFG_TYPE_HVM;
		else {
			xlcfg_has(cfg, "type", &i);
			set_err(err, errlen,
				"%s:%u: type: unknown type '%.64s' (expected "
				"pv, pvh or hvm)",
				cfg->name, i, type);
			rc = -EINVAL;
			goto out;
		}
	}
	rc = dom_u64(cfg, "memory", 1, XLCFG_MAX_MEMORY_MIB, &d->memory_mib,
		     err, errlen);
	if (rc < 0)
		goto out;
	d->maxmem_mib = d->memory_mib;
	rc = dom_u64(cfg, "maxmem", 1, XLCFG_MAX_MEMORY_MIB, &d->maxmem_mib,
		     err, errlen);
	if (rc < 0)
		goto out;
	if (d->maxmem_mib < d->memory_mib) {
		xlcfg_has(cfg, "maxmem", &i);
		set_err(err, errlen,
			"%s:%u: maxmem: %llu is less than memory (%llu)",
			cfg->name, i, (unsigned long long)d->maxmem_mib,
			(unsigned long long)d->memory_mib);
		rc = -EINVAL;
		goto out;
	}
	v = 1;
	rc = dom_u64(cfg, "vcpus", 1, XLCFG_MAX_VCPUS, &v, err, errlen);
	if (rc < 0)
		goto out;
	d->vcpus = (unsigned int)v;
	rc = dom_u64(cfg, "maxvcpus", 1, XLCFG_MAX_VCPUS, &v, err, errlen);
	if (rc < 0)
		goto out;
	d->maxvcpus = (unsigned int)v;
	if (d->maxvcpus < d->vcpus) {
		xlcfg_has(cfg, "maxvcpus", &i);
		set_err(err, errlen,
			"%s:%u: maxvcpus: %u is less than vcpus (%u)",
			cfg->name, i, d->maxvcpus, d->vcpus);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = dom_uuid(cfg, d, err, errlen)) < 0 ||
	    (rc = dom_string(cfg, "kernel", &d->kernel, err, errlen)) < 0 ||
	    (rc = dom_string(cfg, "ramdisk", &d->ramdisk, err, errlen)) < 0 ||
	    (rc = dom_cmdline(cfg, d, err, errlen)) < 0 ||
	    (rc = dom_action(cfg, "on_poweroff", &d->on_poweroff, err,
			     errlen)) < 0 ||
	    (rc = dom_action(cfg, "on_reboot", &d->on_reboot, err, errlen)) <
		    0 ||
	    (rc = dom_action(cfg, "on_crash", &d->on_crash, err, errlen)) < 0 ||
	    (rc = dom_action(cfg, "on_watchdog", &d->on_watchdog, err,
			     errlen)) < 0 ||
	    (rc = dom_action(cfg, "on_soft_reset", &d->on_soft_reset, err,
			     errlen)) < 0 ||
	    (rc = dom_disks(cfg, d, err, errlen)) < 0 ||
	    (rc = dom_vifs(cfg, d, err, errlen)) < 0)
		goto out;
	for (i = 0; i < cfg->n; i++)
		if (!cfg->e[i].used &&
		    (rc = add_warning(cfg, "%s:%u: %s: unknown key (ignored)",
				      cfg->name, cfg->e[i].line,
				      cfg->e[i].key)) < 0)
			goto out;
	*out = d;
	d = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM)
		set_err(err, errlen, "%s: out of memory", cfg->name);
	free(type);
	xlcfg_domain_free(d);
	return rc;
}
