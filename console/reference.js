// The API reference (#reference), built in the browser from the API's own
// /openapi.json: each operation with its method and path, summary,
// description, the scope it needs, its parameters, request body and
// answers, and every schema as a list of fields. Readable signed out too.
// `#reference/<operationId>` and `#reference/schema-<Name>` point into it.

import * as api from './api.js';
import { $, h, replaceChildren } from './dom.js';
import { session } from './session.js';

const view = $('reference-view');
const body = $('reference-body');
let built = null;

/** Shows the reference, scrolled to `anchor` when given. */
export async function showReference(anchor = null) {
  view.hidden = false;
  $('reference-back-signin').hidden = api.hasSession();
  $('reference-error').hidden = true;
  try {
    built ??= api.openApiDocument().then(build);
    await built;
  } catch {
    built = null;
    $('reference-error').textContent = 'The API reference could not be loaded: /openapi.json did not answer. Try again shortly.';
    $('reference-error').hidden = false;
    return;
  }
  if (view.hidden) return;
  const target = anchor && document.getElementById(`ref-${anchor}`);
  if (target) {
    target.scrollIntoView({ block: 'start' });
    target.querySelector('h2, h3')?.focus({ preventScroll: true });
  } else {
    window.scrollTo(0, 0);
  }
}

export function hideReference() {
  view.hidden = true;
}

/** After sign-in or sign-out: "your key holds it" changes with the key. */
export function resetReference() {
  built = null;
  replaceChildren(body);
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function build(document) {
  const schemas = document.components?.schemas ?? {};
  const resolve = (ref, kind) => document.components?.[kind]?.[ref.split('/').pop()] ?? {};

  const operations = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      if (item[method]) operations.push({ path, method, ...item[method] });
    }
  }
  const tags = (document.tags ?? []).filter((tag) => operations.some((op) => op.tags?.includes(tag.name)));
  const inTag = (tag) => operations.filter((op) => op.tags?.includes(tag.name));

  const contents = h(
    'nav',
    { class: 'reference-contents', 'aria-label': 'Operations' },
    h('h2', {}, 'Contents'),
    h(
      'ul',
      {},
      tags.flatMap(inTag).map((op) =>
        h('li', {}, methodBadge(op.method), ' ', h('a', { href: `#reference/${op.operationId}` }, h('code', {}, op.path)), ' ', op.summary ?? ''),
      ),
      h('li', {}, h('a', { href: '#reference/schemas' }, 'Schemas')),
    ),
  );

  const intro = h(
    'section',
    { class: 'card reference-intro' },
    h('p', { class: 'reference-title' }, h('strong', {}, document.info?.title ?? 'API'), ' ', h('span', { class: 'muted' }, `version ${document.info?.version ?? '?'}`)),
    document.info?.summary ? h('p', {}, document.info.summary) : null,
    h(
      'p',
      {},
      'Base URL: ',
      h('code', {}, window.location.origin),
      '. Every call under ',
      h('code', {}, '/v1'),
      ' sends the key in the ',
      h('code', {}, 'X-API-Key'),
      ' header.',
    ),
    document.info?.description ? h('p', { class: 'muted' }, document.info.description) : null,
  );

  const sections = tags.map((tag) =>
    h(
      'section',
      { class: 'reference-tag', 'aria-labelledby': `ref-tag-${tag.name}` },
      h('h2', { id: `ref-tag-${tag.name}` }, capitalize(tag.name)),
      tag.description ? h('p', { class: 'muted' }, tag.description) : null,
      inTag(tag).map((op) => operation(op, resolve)),
    ),
  );

  const schemaSection = h(
    'section',
    { id: 'ref-schemas', class: 'reference-tag', 'aria-labelledby': 'ref-schemas-title' },
    h('h2', { id: 'ref-schemas-title', tabindex: '-1' }, 'Schemas'),
    Object.entries(schemas).map(([name, schema]) =>
      h(
        'article',
        { id: `ref-schema-${name}`, class: 'card reference-op' },
        h('h3', { tabindex: '-1' }, h('code', {}, name)),
        schema.description ? h('p', {}, schema.description) : null,
        schemaBody(schema),
      ),
    ),
  );

  replaceChildren(body, intro, contents, sections, schemaSection);
  body.removeAttribute('aria-busy');
}

function operation(op, resolve) {
  const parameters = (op.parameters ?? []).map((p) => (p.$ref ? resolve(p.$ref, 'parameters') : p));
  const request = op.requestBody?.content?.['application/json'];
  return h(
    'article',
    { id: `ref-${op.operationId}`, class: 'card reference-op' },
    h('h3', { tabindex: '-1' }, methodBadge(op.method), ' ', h('code', { class: 'reference-path' }, op.path)),
    h('p', { class: 'reference-summary' }, op.summary ?? ''),
    scopeLine(op['x-required-scope']),
    op.description ? h('p', {}, op.description) : null,
    parameters.length > 0
      ? [
          h('h4', {}, 'Parameters'),
          fieldsTable(
            parameters.map((p) => ({
              name: p.name,
              where: p.in,
              required: p.required,
              schema: p.schema,
              description: p.description ?? p.schema?.description,
            })),
            { where: true },
          ),
        ]
      : null,
    request
      ? [
          h('h4', {}, 'Request body', op.requestBody.required ? '' : ' (optional)'),
          h('p', {}, 'JSON: ', typeOf(request.schema)),
          request.schema?.$ref ? null : schemaBody(request.schema),
          request.example ? example(request.example) : null,
        ]
      : null,
    h('h4', {}, 'Answers'),
    h(
      'dl',
      { class: 'responses' },
      Object.entries(op.responses ?? {}).map(([status, answer]) => {
        const response = answer.$ref ? resolve(answer.$ref, 'responses') : answer;
        const content = Object.entries(response.content ?? {});
        return [
          h('dt', {}, h('span', { class: `status status-${status[0]}xx` }, status)),
          h(
            'dd',
            {},
            response.description ?? '',
            content.map(([type, media]) => h('span', { class: 'secondary' }, h('code', {}, type), media.schema ? [': ', typeOf(media.schema)] : null)),
          ),
        ];
      }),
    ),
  );
}

function scopeLine(scope) {
  let text;
  if (scope === null || scope === undefined) text = 'Public: no key needed.';
  else if (scope === 'any') text = 'Needs any valid key.';
  else text = ['Needs ', h('code', {}, scope), '.'];
  const yours = session.me && scope && scope !== 'any'
    ? h('span', { class: session.holds(scope) ? 'tag' : 'tag tag-warning' }, session.holds(scope) ? 'your key holds it' : 'your key lacks it')
    : null;
  return h('p', { class: 'reference-scope' }, h('strong', {}, 'Scope: '), text, ' ', yours);
}

function methodBadge(method) {
  return h('span', { class: `method method-${method}` }, method.toUpperCase());
}

function example(value) {
  return h('details', { class: 'reference-example' }, h('summary', {}, 'Example'), h('pre', {}, h('code', {}, JSON.stringify(value, null, 2))));
}

/** A schema's fields (or, for a choice of shapes, each shape's fields). */
function schemaBody(schema, depth = 0) {
  if (!schema || depth > 3) return null;
  const choices = schema.oneOf ?? schema.anyOf;
  if (choices && choices.some((choice) => choice.properties)) {
    return h(
      'div',
      { class: 'reference-choices' },
      h('p', {}, 'One of:'),
      choices.map((choice) => h('div', { class: 'reference-choice' }, h('p', {}, h('strong', {}, choice.title ?? 'object')), schemaBody(choice, depth + 1))),
    );
  }
  if (schema.properties) {
    const required = new Set(schema.required ?? []);
    return fieldsTable(
      Object.entries(schema.properties).map(([name, property]) => ({
        name,
        required: required.has(name),
        schema: property,
        description: describe(property),
        nested: nestedObject(property) ? schemaBody(nestedObject(property), depth + 1) : null,
      })),
    );
  }
  if (schema.type === 'array' && schema.items?.properties) return schemaBody(schema.items, depth + 1);
  return h('p', {}, 'A value of type ', typeOf(schema), constraints(schema) ? ` (${constraints(schema)})` : '', '.');
}

/** A property's inline object (not a $ref), whose fields are listed under it. */
function nestedObject(schema) {
  if (schema.properties) return schema;
  if (schema.type === 'array' && schema.items?.properties) return schema.items;
  return null;
}

function describe(schema) {
  const inner = schema.oneOf?.find((choice) => choice.type !== 'null') ?? schema;
  return schema.description ?? inner.description;
}

function constraints(schema) {
  const parts = [];
  if (schema.minLength !== undefined || schema.maxLength !== undefined) {
    parts.push(`${schema.minLength ?? 0}–${schema.maxLength ?? '∞'} characters.`);
  }
  if (schema.minimum !== undefined || schema.maximum !== undefined) {
    parts.push(`From ${schema.minimum ?? '−∞'} to ${schema.maximum ?? '∞'}.`);
  }
  if (schema.minItems) parts.push(`At least ${schema.minItems}.`);
  if (schema.default !== undefined) parts.push(`Default: ${JSON.stringify(schema.default)}.`);
  if (schema.examples?.length) parts.push(`Example: ${schema.examples.map((e) => JSON.stringify(e)).join(', ')}.`);
  return parts.join(' ');
}

/** A field's limits (lengths, range, default, example) under its type. */
function limits(schema) {
  if (!schema) return null;
  const inner = schema.oneOf?.find((choice) => choice.type !== 'null') ?? schema;
  const text = constraints(inner);
  return text ? h('span', { class: 'secondary' }, text) : null;
}

function fieldsTable(rows, { where = false } = {}) {
  return h(
    'table',
    { class: 'fields-table' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Name'), where ? h('th', { scope: 'col' }, 'In') : null, h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Required'), h('th', { scope: 'col' }, 'Description')),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          h('td', {}, h('code', {}, row.name)),
          where ? h('td', {}, row.where) : null,
          h('td', {}, typeOf(row.schema), limits(row.schema)),
          h('td', { class: 'field-required' }, row.required ? 'required' : 'optional'),
          h('td', {}, row.description || null, row.nested ?? null),
        ),
      ),
    ),
  );
}

/** A schema's type in words: "string (date-time)", "list of Scope", "KeyId or null", "one of a, b". */
function typeOf(schema) {
  if (!schema) return 'any';
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop();
    return h('a', { href: `#reference/schema-${name}` }, name);
  }
  // `allOf` with one schema: that schema, with this field's own description.
  if (schema.allOf?.length === 1) return typeOf(schema.allOf[0]);
  const choices = schema.oneOf ?? schema.anyOf;
  if (choices) {
    const parts = choices.map((choice) => (choice.properties ? choice.title ?? 'object' : typeOf(choice)));
    return joinWords(parts, ' or ');
  }
  if (Object.hasOwn(schema, 'const')) return h('code', {}, JSON.stringify(schema.const));
  if (schema.enum) return ['one of ', joinWords(schema.enum.map((value) => h('code', {}, JSON.stringify(value))), ', ')];
  if (schema.type === 'array') return ['list of ', typeOf(schema.items)];
  if (schema.type === 'object' || schema.properties) return 'object';
  if (schema.type) return schema.format ? `${schema.type} (${schema.format})` : schema.type;
  return 'any';
}

function joinWords(parts, separator) {
  return parts.flatMap((part, index) => (index === 0 ? [part] : [separator, part]));
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
