// check.mjs runs the official Bitrix24 JS SDK, unmodified, against b24fake:
// a webhook client (https, the SDK requires it) and an OAuth client
// configured as the SDK's docs say (clientEndpoint "https://HOST/rest/"),
// each doing crm.item.batchImport, crm.item.fields, a batch and a paged
// list; the OAuth client's token expires on the way and must be refreshed.
// .ci/run starts the fake and passes its settings in the environment.
import assert from 'node:assert/strict'
import { B24Hook, B24OAuth } from '@bitrix24/b24jssdk'

const env = (k) => {
  const v = process.env[k]
  if (!v) throw new Error(`${k} is not set`)
  return v
}

let passed = 0
let failed = 0
async function check(name, fn) {
  try {
    await fn()
    passed++
    console.log(`ok   ${name}`)
  } catch (e) {
    failed++
    console.log(`FAIL ${name}: ${e?.stack ?? e}`)
  }
}

const deals = (prefix, n) => Array.from({ length: n }, (_, i) => ({
  title: `${prefix} ${i}`, opportunity: i + 0.5, currencyId: 'EUR', contactIds: [4, 5],
  originatorId: 'jssdk', originId: `${prefix}-${i}`,
}))

async function exercise(name, b24, prefix) {
  const call = (method, params) => b24.actions.v2.call.make({ method, params })

  await check(`${name}: crm.item.batchImport`, async () => {
    for (let k = 0; k < 6; k++) {
      const r = await call('crm.item.batchImport', { entityTypeId: 2, data: deals(`${prefix}${k}`, 20) })
      assert.ok(r.isSuccess, r.getErrorMessages().join('; '))
      const items = r.getData().result.items
      assert.equal(items.length, 20)
      for (const it of items) assert.ok(Number.isInteger(it.item.id) && it.item.id > 0, JSON.stringify(it))
    }
  })

  await check(`${name}: crm.item.fields`, async () => {
    const r = await call('crm.item.fields', { entityTypeId: 2 })
    assert.ok(r.isSuccess, r.getErrorMessages().join('; '))
    const f = r.getData().result.fields
    assert.equal(f.title.type, 'string')
    assert.equal(f.opportunity.type, 'double')
    assert.equal(f.contactIds.isMultiple, true)
  })

  await check(`${name}: batch`, async () => {
    const r = await b24.actions.v2.batch.make({
      calls: {
        add: { method: 'crm.item.add', params: { entityTypeId: 2, fields: { title: `${prefix} batch`, contactIds: [7], opportunity: 12.5 } } },
        get: { method: 'crm.item.get', params: { entityTypeId: 2, id: '$result[add][item][id]' } },
      },
      options: { isHaltOnError: true },
    })
    assert.ok(r.isSuccess, r.getErrorMessages().join('; '))
    const data = r.getData()
    const got = data.get.item
    assert.equal(got.title, `${prefix} batch`)
    assert.deepEqual(got.contactIds, [7], 'ids typed by the field inside a batch')
    assert.equal(got.opportunity, 12.5)
  })

  await check(`${name}: paged list`, async () => {
    const r = await b24.actions.v2.callList.make({
      method: 'crm.item.list',
      params: { entityTypeId: 2, filter: { originatorId: 'jssdk' }, select: ['id', 'title', 'originId'] },
      idKey: 'id', cursorIdKey: 'id', customKeyForResult: 'items',
    })
    assert.ok(r.isSuccess, r.getErrorMessages().join('; '))
    const mine = r.getData().filter((it) => String(it.originId).startsWith(prefix))
    assert.equal(mine.length, 120, 'every imported deal, across pages of 50')

    let pages = 0
    let rows = 0
    for await (const page of b24.actions.v2.fetchList.make({
      method: 'crm.item.list',
      params: { entityTypeId: 2, filter: { originatorId: 'jssdk' }, select: ['id'] },
      idKey: 'id', cursorIdKey: 'id', customKeyForResult: 'items',
    })) {
      pages++
      rows += page.length
    }
    assert.ok(pages >= 3, `pages: ${pages}`)
    assert.ok(rows >= 120, `rows: ${rows}`)
  })
}

const hook = new B24Hook({ b24Url: env('B24_URL'), userId: 1, secret: env('B24_SECRET') })
hook.offClientSideWarning()
await exercise('webhook', hook, 'hook')

const base = env('B24_URL')
let refreshed = 0
const oauth = new B24OAuth({
  applicationToken: '', userId: 1, memberId: 'b24test',
  accessToken: env('B24_ACCESS'), refreshToken: env('B24_REFRESH'),
  expires: Math.floor(Date.now() / 1000) + 3600, expiresIn: 3600,
  scope: 'crm', domain: new URL(base).host,
  clientEndpoint: `${base}/rest/`, serverEndpoint: `${base}/rest/`, status: 'L',
}, { clientId: env('B24_CLIENT_ID'), clientSecret: env('B24_CLIENT_SECRET') })
oauth.offClientSideWarning()
oauth.setCallbackRefreshAuth(async () => { refreshed++ })
await check('oauth: profile', async () => {
  const r = await oauth.actions.v2.call.make({ method: 'profile', params: {} })
  assert.ok(r.isSuccess, r.getErrorMessages().join('; '))
  assert.equal(r.getData().result.ID, '1')
})
// The fake's access tokens live B24_TOKEN_TTL_MS: wait it out so the next
// calls meet expired_token and the SDK refreshes.
await new Promise((r) => setTimeout(r, Number(env('B24_TOKEN_TTL_MS')) + 200))
await exercise('oauth', oauth, 'oauth')
await check('oauth: token refresh', async () => {
  assert.ok(refreshed >= 1, `refreshes: ${refreshed}`)
})

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
