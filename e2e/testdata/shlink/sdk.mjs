// Drives kurz through Shlink's own JavaScript SDK (@shlinkio/shlink-js-sdk),
// the client of Shlink's web client: every method its main screens use, with
// exact expectations. Run by e2e/shlink_test.go with KURZ_URL (Traefik),
// KURZ_ADMIN_KEY, KURZ_AUTHOR_KEY, KURZ_OTHER_KEY (another author) and RUN
// (a suffix that keeps this run's tags and slugs apart).
import assert from 'node:assert/strict';
import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { ErrorType } from '@shlinkio/shlink-js-sdk/api-contract';
import { NodeHttpClient } from '@shlinkio/shlink-js-sdk/node';

const { KURZ_URL: baseUrl, KURZ_ADMIN_KEY, KURZ_AUTHOR_KEY, KURZ_OTHER_KEY, RUN } = process.env;
const client = (apiKey) => new ShlinkApiClient(new NodeHttpClient(), { baseUrl, apiKey });
const admin = client(KURZ_ADMIN_KEY);
const author = client(KURZ_AUTHOR_KEY);
const other = client(KURZ_OTHER_KEY);

let passed = 0;
const check = async (name, f) => {
  try {
    await f();
    passed++;
    console.log(`ok ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}:`, e);
    process.exitCode = 1;
  }
};
// rejects asserts that a call fails with Shlink's problem of type and status.
const rejects = async (promise, type, status) => {
  const e = await promise.then(() => assert.fail('no error'), (e) => e);
  assert.equal(e.type, type, JSON.stringify(e));
  assert.equal(e.status, status, JSON.stringify(e));
  return e;
};
const eventually = async (f, what) => {
  const until = Date.now() + 20000;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > until) throw new Error(`${what}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
};
const visit = async (shortUrl, times) => {
  for (let i = 0; i < times; i++) {
    const res = await fetch(shortUrl, { redirect: 'manual', headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0', Referer: 'https://news.example.com/item' } });
    assert.equal(res.status, 301);
  }
};

const tag = `summer-sale-${RUN}`;
const slug = `sdk-${RUN}`;
const until = '2031-01-02T03:04:05+00:00';
let created;

await check('health answers pass with a version the web client accepts', async () => {
  const h = await admin.health();
  assert.equal(h.status, 'pass');
  assert.equal(h.version, '4.6.0');
});

await check('createShortUrl keeps the slug, tags, title, limits and Shlink defaults', async () => {
  created = await author.createShortUrl({ longUrl: `https://example.com/docs/${RUN}`, customSlug: slug, tags: [`Summer Sale ${RUN}`, 'docs'],
    title: 'The docs', validUntil: until, maxVisits: 100, crawlable: true });
  assert.equal(created.shortCode, slug);
  assert.equal(created.shortUrl, `${baseUrl}/${slug}`);
  assert.equal(created.longUrl, `https://example.com/docs/${RUN}`);
  assert.deepEqual(created.tags, [tag, 'docs']);
  assert.equal(created.title, 'The docs');
  assert.deepEqual(created.meta, { validSince: null, validUntil: until, maxVisits: 100 });
  assert.equal(created.domain, null);
  assert.equal(created.crawlable, true);
  assert.equal(created.forwardQuery, true); // Shlink's default, and the SDK never sends false
  assert.deepEqual(created.visitsSummary, { total: 0, nonBots: 0, bots: 0 });
  assert.match(created.dateCreated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
});

await check('a taken slug is non-unique-slug', async () => {
  const e = await rejects(author.createShortUrl({ longUrl: 'https://example.com/other', customSlug: slug }), ErrorType.INVALID_SLUG, 400);
  assert.equal(e.customSlug, slug);
});

await check('an unsafe URL is invalid-data naming longUrl', async () => {
  const e = await rejects(author.createShortUrl({ longUrl: 'javascript:alert(1)' }), ErrorType.INVALID_ARGUMENT, 400);
  assert.deepEqual(e.invalidElements, ['longUrl']);
});

let plain;
await check('without findIfExists every create is a new link; with it the existing one', async () => {
  const url = `https://example.com/plain/${RUN}`;
  const a = await author.createShortUrl({ longUrl: url });
  const b = await author.createShortUrl({ longUrl: url });
  assert.notEqual(a.shortCode, b.shortCode);
  assert.equal(a.shortCode.length, 7);
  const c = await author.createShortUrl({ longUrl: url, findIfExists: true });
  assert.equal(c.shortCode, a.shortCode);
  plain = [a, b];
});

await check('getShortUrl of a missing code is short-url-not-found', async () => {
  const e = await rejects(author.getShortUrl({ shortCode: 'nope-' + RUN }), ErrorType.INVALID_SHORTCODE, 404);
  assert.equal(e.shortCode, 'nope-' + RUN);
});

await check("another author's key does not see the link", async () => {
  await rejects(other.getShortUrl({ shortCode: slug }), ErrorType.INVALID_SHORTCODE, 404);
  const list = await other.listShortUrls();
  assert.equal(list.pagination.totalItems, 0);
});

await check('listShortUrls counts, pages, orders and filters the key’s links', async () => {
  const all = await author.listShortUrls();
  assert.equal(all.pagination.totalItems, 3);
  assert.equal(all.pagination.currentPage, 1);
  assert.equal(all.pagination.pagesCount, 1);
  assert.deepEqual(all.data.map((s) => s.shortCode), [plain[1].shortCode, plain[0].shortCode, slug]); // newest first

  const page = await author.listShortUrls({ itemsPerPage: 2, page: '2', orderBy: { field: 'dateCreated', dir: 'ASC' } });
  assert.deepEqual(page.pagination, { currentPage: 2, pagesCount: 2, itemsPerPage: 2, itemsInCurrentPage: 1, totalItems: 3 });
  assert.deepEqual(page.data.map((s) => s.shortCode), [plain[1].shortCode]);

  const tagged = await author.listShortUrls({ tags: [tag] });
  assert.deepEqual(tagged.data.map((s) => s.shortCode), [slug]);
  const untagged = await author.listShortUrls({ excludeTags: [tag] });
  assert.equal(untagged.pagination.totalItems, 2);
  const search = await author.listShortUrls({ searchTerm: 'the docs' });
  assert.deepEqual(search.data.map((s) => s.shortCode), [slug]);
  const byDomain = await author.listShortUrls({ domain: 'DEFAULT' });
  assert.equal(byDomain.pagination.totalItems, 3);
});

await check('updateShortUrl changes what it names and clears nulls', async () => {
  const u = await author.updateShortUrl({ shortCode: slug }, { title: 'Docs, new', maxVisits: null, tags: [tag, 'manual'], forwardQuery: false });
  assert.equal(u.title, 'Docs, new');
  assert.equal(u.meta.maxVisits, null);
  assert.equal(u.meta.validUntil, until);
  assert.deepEqual(u.tags, [tag, 'manual']);
  assert.equal(u.forwardQuery, false);
  const e = await rejects(author.updateShortUrl({ shortCode: slug }, { validSince: 'not a date' }), ErrorType.INVALID_ARGUMENT, 400);
  assert.deepEqual(e.invalidElements, ['validSince']);
});

await check('visits: each redirect at the edge is one visit, listed newest first with what the web client reads', async () => {
  await visit(created.shortUrl, 3);
  const visits = await eventually(async () => {
    const v = await author.getShortUrlVisits({ shortCode: slug });
    assert.equal(v.pagination.totalItems, 3);
    return v;
  }, 'three visits logged');
  assert.equal(visits.data.length, 3);
  for (const v of visits.data) {
    assert.equal(v.referer, 'https://news.example.com');
    assert.equal(v.potentialBot, false);
    assert.match(v.userAgent, /Firefox/);
    assert.equal(v.visitedUrl, created.shortUrl);
    assert.equal(v.redirectUrl, created.longUrl);
    assert.match(v.date, /\+00:00$/);
  }
  const dates = visits.data.map((v) => v.date);
  assert.deepEqual([...dates].sort().reverse(), dates);
  const paged = await author.getShortUrlVisits({ shortCode: slug }, { page: 2, itemsPerPage: 2 });
  assert.equal(paged.data.length, 1);
  assert.deepEqual(paged.pagination, { currentPage: 2, pagesCount: 2, itemsPerPage: 2, itemsInCurrentPage: 1, totalItems: 3 });
  const none = await author.getShortUrlVisits({ shortCode: slug }, { startDate: '2030-01-01T00:00:00+00:00' });
  assert.equal(none.pagination.totalItems, 0);
  const got = await eventually(async () => {
    const s = await author.getShortUrl({ shortCode: slug });
    assert.equal(s.visitsSummary.total, 3);
    return s;
  }, 'the count folded');
  assert.deepEqual(got.visitsSummary, { total: 3, nonBots: 3, bots: 0 });
  const byTag = await author.getTagVisits(tag);
  assert.equal(byTag.pagination.totalItems, 3);
  const byDomain = await author.getDomainVisits('DEFAULT');
  assert.equal(byDomain.pagination.totalItems, 3);
  const all = await author.getNonOrphanVisits();
  assert.equal(all.pagination.totalItems, 3);
});

await check('the visits overview sums the key’s links', async () => {
  const o = await author.getVisitsOverview();
  assert.deepEqual(o, { nonOrphanVisits: { total: 3, nonBots: 3, bots: 0 }, orphanVisits: { total: 0, nonBots: 0, bots: 0 } });
});

await check('tagsStats counts links and visits per tag', async () => {
  const stats = await author.tagsStats();
  assert.deepEqual(stats.data.find((t) => t.tag === tag), { tag, shortUrlsCount: 1, visitsSummary: { total: 3, nonBots: 3, bots: 0 } });
  const tags = await author.listTags();
  assert.deepEqual(tags.data, ['manual', tag]);
});

await check('getTagVisits of a missing tag is tag-not-found', async () => {
  await rejects(author.getTagVisits('no-such-tag-' + RUN), ErrorType.TAG_NOT_FOUND, 404);
});

await check('tags are renamed and deleted by admins only', async () => {
  await rejects(author.editTag({ oldName: tag, newName: tag + '-x' }), ErrorType.FORBIDDEN_OPERATION, 403);
  await admin.editTag({ oldName: tag, newName: tag + '-renamed' });
  assert.deepEqual((await author.getShortUrl({ shortCode: slug })).tags, [tag + '-renamed', 'manual']);
  await rejects(admin.editTag({ oldName: tag, newName: 'x' }), ErrorType.TAG_NOT_FOUND, 404);
  await rejects(admin.editTag({ oldName: tag + '-renamed', newName: 'manual' }), ErrorType.TAG_CONFLICT, 409);
  await admin.deleteTags([tag + '-renamed']);
  assert.deepEqual((await author.getShortUrl({ shortCode: slug })).tags, ['manual']);
});

await check('listDomains has the default domain', async () => {
  const d = await author.listDomains();
  const host = new URL(baseUrl).hostname;
  const def = d.data.find((x) => x.isDefault);
  assert.equal(def.domain, host);
  assert.deepEqual(Object.keys(def.redirects).sort(), ['baseUrlRedirect', 'invalidShortUrlRedirect', 'regular404Redirect']);
  assert.ok(d.defaultRedirects);
});

await check('redirect rules: none, and setting some is refused', async () => {
  const r = await author.getShortUrlRedirectRules({ shortCode: slug });
  assert.deepEqual(r, { defaultLongUrl: created.longUrl, redirectRules: [] });
  await rejects(author.setShortUrlRedirectRules({ shortCode: slug }, { redirectRules: [{ longUrl: 'https://example.com/a', conditions: [{ type: 'device', matchKey: null, matchValue: 'android' }] }] }),
    ErrorType.INVALID_ARGUMENT, 400);
});

await check('orphan visits are none, mercure is not configured', async () => {
  const o = await author.getOrphanVisits();
  assert.deepEqual(o.data, []);
  assert.equal(o.pagination.totalItems, 0);
  assert.deepEqual(await author.deleteOrphanVisits(), { deletedVisits: 0 });
  await rejects(author.mercureInfo(), ErrorType.MERCURE_NOT_CONFIGURED, 501);
});

await check('deleteShortUrlVisits forgets the link’s visits', async () => {
  assert.deepEqual(await author.deleteShortUrlVisits({ shortCode: slug }), { deletedVisits: 3 });
  const s = await author.getShortUrl({ shortCode: slug });
  assert.deepEqual(s.visitsSummary, { total: 0, nonBots: 0, bots: 0 });
  assert.equal((await author.getShortUrlVisits({ shortCode: slug })).pagination.totalItems, 0);
});

await check('deleteShortUrl removes it, and its short URL stops redirecting', async () => {
  await author.deleteShortUrl({ shortCode: slug });
  await rejects(author.getShortUrl({ shortCode: slug }), ErrorType.INVALID_SHORTCODE, 404);
  await rejects(author.deleteShortUrl({ shortCode: slug }), ErrorType.INVALID_SHORTCODE, 404);
  await eventually(async () => {
    const res = await fetch(created.shortUrl, { redirect: 'manual' });
    assert.equal(res.status, 404);
  }, 'the deleted link answers 404');
});

await check('a wrong key is invalid-api-key', async () => {
  await rejects(client('kurz_not-a-key').listShortUrls(), ErrorType.INVALID_API_KEY, 401);
});

console.log(`${passed} passed`);
