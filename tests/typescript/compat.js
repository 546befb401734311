#!/usr/bin/env node
'use strict'
// The npm evtstore (12.0.1) on a database the Rust evtstore also uses: one step per process,
// one JSON document on stdout. See README.md in this folder.
//
//   node compat.js <backend> <connection> migrate
//   node compat.js <backend> <connection> command <stream> <aggregateId> '<command JSON>'
//   node compat.js <backend> <connection> load <stream> <aggregateId>
//   node compat.js <backend> <connection> handle <bookmark> <stream> [<stream>...]
//
// <backend>: sqlite | postgres | mysql. Tables: `events` and `bookmarks`.
// Exit codes: 0 done, 1 any other error, 2 usage, 3 CommandError (a refusal of the domain),
// 4 VersionError (the TS library's name for any failed append).

// Everything but the one JSON document goes to stderr (knex warns through console.log/warn).
console.log = console.error
console.info = console.error
console.warn = console.error

const { createDomain, createAggregate, createCommands, CommandError, VersionError } = require('evtstore')

const EVENTS = 'events'
const BOOKMARKS = 'bookmarks'

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// The domain of the TS README's example: users and posts.

const user = createAggregate({
  stream: 'users',
  create: () => ({ name: '', enabled: false }),
  fold: (evt) => {
    switch (evt.type) {
      case 'created':
        return { name: evt.name, enabled: true }
      case 'disabled':
        return { enabled: false }
      case 'enabled':
        return { enabled: true }
    }
  },
})

const post = createAggregate({
  stream: 'posts',
  create: () => ({ content: '', userId: '', archived: false }),
  fold: (evt) => {
    switch (evt.type) {
      case 'postCreated':
        return { userId: evt.userId, content: evt.content }
      case 'postArchived':
        return { archived: true }
    }
  },
})

/** Event types of each stream, for handlers that handle every event of their streams. */
const EVENT_TYPES = {
  users: ['created', 'disabled', 'enabled'],
  posts: ['postCreated', 'postArchived'],
}

/** Domain key of each stream. */
const AGGREGATE_OF = { users: 'user', posts: 'post' }

function buildDomain(provider) {
  const { domain, createHandler } = createDomain({ provider }, { user, post })

  // The README elides the user commands; these refuse what the Rust test domain
  // (tests/src/domain.rs) refuses, with its messages, so that both sides decide alike.
  const userCmd = createCommands(domain.user, {
    async create(cmd, agg) {
      if (agg.version) throw new CommandError('user already exists', 'exists')
      return { type: 'created', name: cmd.name }
    },
    async disable(_cmd, agg) {
      if (!agg.version) throw new CommandError('user does not exist')
      return { type: 'disabled' }
    },
    async enable(_cmd, agg) {
      if (!agg.version) throw new CommandError('user does not exist')
      return { type: 'enabled' }
    },
  })

  // As in the README (event fields in its order: type, content, userId).
  const postCmd = createCommands(domain.post, {
    async createPost(cmd, agg) {
      if (agg.version) throw new CommandError('post already exists')
      const author = await domain.user.getAggregate(cmd.userId)
      if (!author.version) throw new CommandError('unauthorized')
      return { type: 'postCreated', content: cmd.content, userId: cmd.userId }
    },
    async archivePost(cmd, agg) {
      if (cmd.userId !== agg.userId) throw new CommandError('not allowed')
      if (agg.archived) return
      return { type: 'postArchived' }
    },
  })

  return { domain, createHandler, commands: { users: userCmd, posts: postCmd } }
}

// ---------------------------------------------------------------------------------------------
// Connections and providers.

/** `sqlite:/path`, `sqlite:///path`, `sqlite://path` or a plain path; a query is dropped. */
function sqlitePath(connection) {
  let path = connection
  if (path.startsWith('sqlite://')) path = path.slice('sqlite://'.length)
  else if (path.startsWith('sqlite:')) path = path.slice('sqlite:'.length)
  const query = path.indexOf('?')
  if (query >= 0) path = path.slice(0, query)
  if (!path) throw new UsageError(`no SQLite file in "${connection}"`)
  return path
}

/**
 * The server, database and schema of a `postgres://` URL. The schema is `?schema=NAME`, or the
 * `search_path` of `?options=-c search_path=NAME` (as the Rust tests write it:
 * `options=-csearch_path%3DNAME`).
 */
function postgresConfig(connection) {
  const url = new URL(connection)
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`not a postgres:// URL: "${connection}"`)
  }
  let schema = url.searchParams.get('schema') || undefined
  const options = url.searchParams.get('options')
  if (!schema && options) {
    const match = /search_path\s*=\s*("?)([^"\s,]+)\1/.exec(options)
    if (match) schema = match[2]
  }
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username || 'postgres'),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
    schema,
  }
}

/** The `options` startup parameter that sets the search_path of every connection. */
function searchPathOption(schema) {
  // The server splits `options` on spaces; a backslash escapes a space or a backslash.
  const escaped = `"${schema.replace(/"/g, '""')}"`.replace(/([\\ ])/g, '\\$1')
  return `-c search_path=${escaped}`
}

function mysqlConfig(connection) {
  const url = new URL(connection)
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new UsageError(`not a mysql:// URL: "${connection}"`)
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (!database) throw new UsageError(`no database in "${connection}"`)
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || 'root'),
    password: url.password ? decodeURIComponent(url.password) : '',
    database,
  }
}

/**
 * mysql2's connection options. Its `timezone` is left at its default, `local`: DATETIME values
 * are written and read as the Node process's local time (TZ). EVTSTORE_TS_MYSQL_TIMEZONE sets
 * it (`Z`, `+02:00`, `local`), as a TS application could.
 */
function mysqlConnection(connection) {
  const config = mysqlConfig(connection)
  const timezone = process.env.EVTSTORE_TS_MYSQL_TIMEZONE
  return timezone ? { ...config, timezone } : config
}

/** Which provider of the TS library serves PostgreSQL: `pg` (default), `knex` or `postgres`. */
function postgresProviderName() {
  const name = process.env.EVTSTORE_TS_PG_PROVIDER || 'pg'
  if (!['pg', 'knex', 'postgres'].includes(name)) {
    throw new UsageError(`EVTSTORE_TS_PG_PROVIDER must be pg, knex or postgres, not "${name}"`)
  }
  return name
}

function providerLimit() {
  const limit = process.env.EVTSTORE_TS_LIMIT
  if (limit === undefined || limit === '') return undefined
  const n = Number(limit)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`EVTSTORE_TS_LIMIT must be a positive integer`)
  return n
}

/**
 * A store: the TS provider, its migration, raw SQL for the CLI's own checks (the bookmark row,
 * which tables exist), and `close`.
 */
function openStore(backend, connection) {
  const limit = providerLimit()
  const onError = (err, stream, bookmark) =>
    console.error(`evtstore onError (${bookmark}, ${stream}): ${err && err.message}`)

  if (backend === 'sqlite' || backend === 'mysql') {
    const knex = require('knex')
    const db =
      backend === 'sqlite'
        ? knex({
            client: 'better-sqlite3',
            connection: { filename: sqlitePath(connection) },
            useNullAsDefault: true,
          })
        : knex({ client: 'mysql2', connection: mysqlConnection(connection), pool: { min: 0, max: 4 } })
    return knexStore(db, backend, limit, onError)
  }

  if (backend === 'postgres') {
    const config = postgresConfig(connection)
    const providerName = postgresProviderName()
    if (providerName === 'knex') {
      const knex = require('knex')
      const { schema, ...rest } = config
      const db = knex({
        client: 'pg',
        connection: { ...rest, ...(schema ? { options: searchPathOption(schema) } : {}) },
        pool: { min: 0, max: 4 },
      })
      return knexStore(db, backend, limit, onError, schema)
    }
    if (providerName === 'pg') return pgStore(config, limit, onError)
    return postgresJsStore(config, limit, onError)
  }

  throw new UsageError(`unknown backend "${backend}" (sqlite, postgres or mysql)`)
}

/** EVTSTORE_TS_TRACE=1: every SQL statement and its parameters on stderr. */
const TRACE = !!process.env.EVTSTORE_TS_TRACE
function trace(sql, params) {
  console.error(`sql: ${String(sql).replace(/\s+/g, ' ').trim()} -- ${JSON.stringify(params || [])}`)
}

function knexStore(db, backend, limit, onError, schema) {
  const { createProvider, migrate } = require('evtstore/provider/knex')
  if (TRACE) db.on('query', (query) => trace(query.sql, query.bindings))
  const provider = createProvider({
    limit,
    onError,
    events: () => db.table(EVENTS),
    bookmarks: () => db.table(BOOKMARKS),
  })
  return {
    provider,
    providerName: 'knex',
    async ensureSchema() {
      if (backend === 'postgres' && schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema])
    },
    migrate: () => migrate({ client: db, events: EVENTS, bookmarks: BOOKMARKS }),
    hasTable: (name) => db.schema.hasTable(name),
    async bookmarkRows(name) {
      return db.table(BOOKMARKS).select().where('bookmark', name)
    },
    close: () => db.destroy(),
  }
}

function pgStore(config, limit, onError) {
  const { Pool, Client } = require('pg')
  const { createProvider, migrate } = require('evtstore/provider/pg')
  if (TRACE) {
    const query = Client.prototype.query
    Client.prototype.query = function (text, values, ...rest) {
      trace(typeof text === 'string' ? text : text && text.text, Array.isArray(values) ? values : text && text.values)
      return query.call(this, text, values, ...rest)
    }
  }
  const { schema, ...rest } = config
  const pool = new Pool({ ...rest, ...(schema ? { options: searchPathOption(schema) } : {}), max: 4 })
  pool.on('error', (err) => console.error(`pg pool: ${err.message}`))
  const provider = createProvider({ client: pool, limit, onError, events: EVENTS, bookmarks: BOOKMARKS })
  return {
    provider,
    providerName: 'pg',
    async ensureSchema() {
      if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replace(/"/g, '""')}"`)
    },
    migrate: () => migrate({ client: pool, events: EVENTS, bookmarks: BOOKMARKS }),
    async hasTable(name) {
      const result = await pool.query('SELECT to_regclass($1) IS NOT NULL AS present', [`"${name}"`])
      return result.rows[0].present
    },
    async bookmarkRows(name) {
      return (await pool.query(`SELECT * FROM "${BOOKMARKS}" WHERE bookmark = $1`, [name])).rows
    },
    close: () => pool.end(),
  }
}

function postgresJsStore(config, limit, onError) {
  const postgres = require('postgres')
  const { createProvider, migrate } = require('evtstore/provider/postgres')
  const { schema, ...rest } = config
  const sql = postgres({
    ...rest,
    max: 4,
    ...(TRACE ? { debug: (_connection, query, params) => trace(query, params) } : {}),
    onnotice: (notice) => console.error(`postgres notice: ${notice.message}`),
    ...(schema ? { connection: { search_path: `"${schema.replace(/"/g, '""')}"` } } : {}),
  })
  const provider = createProvider({ sql, limit, onError, events: EVENTS, bookmarks: BOOKMARKS })
  return {
    provider,
    providerName: 'postgres',
    async ensureSchema() {
      if (schema) await sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`
    },
    async migrate() {
      try {
        await migrate({ sql, events: EVENTS, bookmarks: BOOKMARKS })
      } catch (err) {
        // Its migrate creates both tables unconditionally, in one transaction: on existing
        // tables it fails with 42P07 (duplicate_table) and creates nothing.
        if (err && err.code === '42P07') {
          console.error(`evtstore/provider/postgres migrate: ${err.message} (nothing created)`)
          return
        }
        throw err
      }
    },
    async hasTable(name) {
      const rows = await sql`SELECT to_regclass(${'"' + name + '"'}) IS NOT NULL AS present`
      return rows[0].present
    },
    async bookmarkRows(name) {
      return sql`SELECT * FROM ${sql(BOOKMARKS)} WHERE bookmark = ${name}`
    },
    close: () => sql.end({ timeout: 5 }),
  }
}

// ---------------------------------------------------------------------------------------------
// Steps.

/** A number as a JS number (drivers give bigint columns as strings); null stays null. */
function num(value) {
  if (value === null || value === undefined) return null
  const n = Number(value)
  return Number.isNaN(n) ? value : n
}

function toOutput(aggregate) {
  const { version, aggregateId: _id, ...state } = aggregate
  return { version: num(version), state }
}

function aggregateFor(domain, stream) {
  const key = AGGREGATE_OF[stream]
  if (!key) throw new UsageError(`unknown stream "${stream}" (users or posts)`)
  return domain[key]
}

async function stepMigrate(store) {
  await store.ensureSchema()
  const before = {}
  for (const name of [EVENTS, BOOKMARKS]) before[name] = await store.hasTable(name)
  await store.migrate()
  const created = []
  const existing = []
  const missing = []
  for (const name of [EVENTS, BOOKMARKS]) {
    if (before[name]) existing.push(name)
    else if (await store.hasTable(name)) created.push(name)
    else missing.push(name)
  }
  if (missing.length) {
    throw new Error(`after the ${store.providerName} provider's migrate, missing table(s): ${missing.join(', ')}`)
  }
  return { provider: store.providerName, created, existing }
}

async function stepCommand(store, [stream, aggregateId, json, ...extra]) {
  if (!stream || aggregateId === undefined || json === undefined || extra.length) {
    throw new UsageError('command <stream> <aggregateId> <command JSON>')
  }
  let body
  try {
    body = JSON.parse(json)
  } catch (err) {
    throw new UsageError(`the command is not JSON: ${err.message}`)
  }
  if (!body || typeof body !== 'object' || typeof body.type !== 'string') {
    throw new UsageError('the command must be a JSON object with a string "type"')
  }
  const { commands, domain } = buildDomain(store.provider)
  aggregateFor(domain, stream)
  const set = commands[stream]
  const { type, ...rest } = body
  if (!Object.prototype.hasOwnProperty.call(set, type)) {
    throw new UsageError(`stream "${stream}" has no command "${type}" (${Object.keys(set).join(', ')})`)
  }
  const next = await set[type](aggregateId, rest)
  return toOutput(next)
}

async function stepLoad(store, [stream, aggregateId, ...extra]) {
  if (!stream || aggregateId === undefined || extra.length) throw new UsageError('load <stream> <aggregateId>')
  const { domain } = buildDomain(store.provider)
  return toOutput(await aggregateFor(domain, stream).getAggregate(aggregateId))
}

async function stepHandle(store, [bookmark, ...streams]) {
  if (!bookmark || streams.length === 0) throw new UsageError('handle <bookmark> <stream> [<stream>...]')
  const { domain, createHandler } = buildDomain(store.provider)
  for (const stream of streams) aggregateFor(domain, stream)

  const handled = []
  const handler = createHandler(bookmark, streams)
  for (const stream of new Set(streams)) {
    for (const type of EVENT_TYPES[stream]) {
      handler.handle(stream, type, (aggregateId, event, meta) => {
        const time = meta.timestamp instanceof Date ? meta.timestamp.getTime() : NaN
        handled.push({
          stream: meta.stream,
          aggregateId,
          version: num(meta.version),
          position: num(meta.position),
          type: event.type,
          event,
          timestamp: Number.isNaN(time) ? null : time,
        })
      })
    }
  }
  // runOnce fetches again until a fetch is empty; a second call that handles nothing proves it.
  for (let round = 0; round < 1000; round++) {
    if ((await handler.runOnce()) === 0) break
  }
  const rows = await store.bookmarkRows(bookmark)
  return { handled, bookmark: rows.length ? num(rows[0].position) : null }
}

const STEPS = { migrate: stepMigrate, command: stepCommand, load: stepLoad, handle: stepHandle }

const USAGE = `usage:
  node compat.js <backend> <connection> migrate
  node compat.js <backend> <connection> command <stream> <aggregateId> '<command JSON>'
  node compat.js <backend> <connection> load <stream> <aggregateId>
  node compat.js <backend> <connection> handle <bookmark> <stream> [<stream>...]
<backend>: sqlite | postgres | mysql`

async function main(argv) {
  const [backend, connection, step, ...args] = argv
  if (!backend || !connection || !step) throw new UsageError('missing arguments')
  const run = STEPS[step]
  if (!run) throw new UsageError(`unknown step "${step}"`)
  if (step === 'migrate' && args.length) throw new UsageError('migrate takes no arguments')
  const store = openStore(backend, connection)
  try {
    return await run(store, args)
  } finally {
    try {
      await store.close()
    } catch (err) {
      console.error(`closing the connection: ${err.message}`)
    }
  }
}

function exitCode(err) {
  if (err instanceof UsageError) return 2
  if (err instanceof VersionError) return 4
  if (err instanceof CommandError) return 3
  return 1
}

main(process.argv.slice(2)).then(
  (result) => {
    // The TS event handler keeps a timer running forever: exit explicitly once written.
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0))
  },
  (err) => {
    const code = exitCode(err)
    if (code === 2) console.error(USAGE)
    const kind = err instanceof UsageError ? 'usage' : (err && err.constructor && err.constructor.name) || 'Error'
    const suffix = err && err.code ? ` [${err.code}]` : ''
    if (process.env.EVTSTORE_TS_DEBUG && err && err.stack) console.error(err.stack)
    process.stderr.write(`compat.js: ${kind}${suffix}: ${err && err.message ? err.message : String(err)}\n`, () =>
      process.exit(code)
    )
  }
)
