/*
 * The little of a C library the guest needs: memory helpers GCC may call,
 * output over the 8250 UART, a printf subset, and command-line arguments.
 */
#include "guest.h"

#define COM1		0x3F8
#define UART_LSR	5
#define LSR_THRE	0x20	/* transmit holding register empty */

void *memset(void *d, int c, size_t n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* We never program the UART (baud rate, FIFO): a VMM's 8250 and QEMU's
 * both transmit without it, and every extra register is one more thing a
 * young device model must get right before we can say anything at all. */
void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		cpu_relax();
	outb(COM1, (u8)c);
}

static void put_uint(u64 v, unsigned base, int width, char pad)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

/* Supports %s %c %u %d %x with an optional 0 flag, width and `l`. */
void vprint(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0;
		bool is_long = false;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 'u':
		case 'x': {
			u64 v = is_long ? va_arg(ap, u64) : va_arg(ap, unsigned);
			put_uint(v, *fmt == 'x' ? 16 : 10, width, pad);
			break;
		}
		case 'd': {
			int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (v < 0) {
				serial_putc('-');
				v = -v;
			}
			put_uint((u64)v, 10, width, pad);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				serial_putc(*s++);
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case '%':
			serial_putc('%');
			break;
		case '\0':
			return;
		}
	}
}

void print(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

/* Gives an asynchronous device model (QEMU TCG acts on a power-off or
 * reset request only when the vCPU next leaves its translated code) time
 * to act before we conclude a write did nothing.  Under KVM the port exit
 * is synchronous and this loop never runs. */
void settle(void)
{
	for (volatile u32 i = 0; i < 100000; i++)
		cpu_relax();
}

/* ---- check results ---- */

static unsigned checks, failed;

/* Prints `ok <name>` or `FAIL <name>: <detail>`; returns ok so a caller
 * can stop at the first failure of a sequence. */
bool check(const char *name, bool ok, const char *fmt, ...)
{
	checks++;
	if (ok) {
		print("ok %s\n", name);
		return true;
	}
	failed++;
	print("FAIL %s: ", name);
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	print("\n");
	return false;
}

void finish(void)
{
	print("testguest: %u checks, %u failed\n", checks, failed);
	power_off();
}

/* ---- time ---- */

/*
 * Waits for a device are bounded in time, not in loop iterations: the
 * same loop runs ~1000 times slower in KVM's instruction emulator (PVM)
 * than under QEMU TCG, so no single iteration count is both generous on
 * one and prompt on the other.  We do not know the TSC's frequency, so we
 * assume the fastest plausible one (4 GHz): a slower TSC only lengthens a
 * wait.  The iteration cap is a backstop for a TSC that does not tick.
 */
#define TSC_TICKS_PER_MS 4000000ULL

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

u64 tsc_read(void)
{
	return rdtsc();
}

void deadline_start(struct deadline *d, u32 ms)
{
	d->end = rdtsc() + ms * TSC_TICKS_PER_MS;
	d->spins = 0;
}

bool deadline_passed(struct deadline *d)
{
	cpu_relax();
	return rdtsc() > d->end || ++d->spins > (1ULL << 34);
}

/* ---- command line ---- */

static const char *cmdline;	/* set by args_init before any use */

void args_init(const char *s)
{
	cmdline = s;
}

/* The last occurrence of a key wins, as for most Linux parameters. */
const char *arg_get(const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *found = NULL;
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		size_t wlen = (size_t)(p - word);
		if (wlen > klen && word[klen] == '=' && memcmp(word, key, klen) == 0) {
			found = word + klen + 1;
			*len = wlen - klen - 1;
		}
	}
	return found;
}

bool arg_is(const char *key, const char *value)
{
	size_t len;
	const char *v = arg_get(key, &len);
	return v && len == strlen(value) && memcmp(v, value, len) == 0;
}

/* True when the comma-separated list value of key names item. */
bool arg_lists(const char *key, const char *item)
{
	size_t len, ilen = strlen(item);
	const char *v = arg_get(key, &len);
	if (!v)
		return false;
	const char *end = v + len;
	while (v < end) {
		const char *p = v;
		while (p < end && *p != ',')
			p++;
		if ((size_t)(p - v) == ilen && memcmp(v, item, ilen) == 0)
			return true;
		v = p + 1;
	}
	return false;
}

int arg_number(const char *key, unsigned base, u64 *out)
{
	size_t len;
	const char *v = arg_get(key, &len);
	if (!v)
		return 0;
	/* Base 16 takes an optional 0x; base 0 means 16 with it, else 10. */
	if ((base == 16 || base == 0) && len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		v += 2;
		len -= 2;
		base = 16;
	} else if (base == 0) {
		base = 10;
	}
	if (len == 0 || len > (base == 16 ? 16 : 19))	/* no overflow */
		return -1;
	u64 n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		n = n * base + d;
	}
	*out = n;
	return 1;
}
