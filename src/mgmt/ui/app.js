// Warren's management UI: a hash-routed single page over the management HTTP API, with Basic
// auth kept in sessionStorage. Each page builds its forms once and refreshes its data by
// polling every few seconds. Plain browser JavaScript: no build step, no external requests.
'use strict';

(() => {
  const POLL_MS = 3000;
  const HISTORY_POINTS = 60;
  const main = document.getElementById('main');
  const loginForm = document.getElementById('login');
  const state = {
    credentials: sessionStorage.getItem('warren.credentials'),
    timer: null,
    /** Bumped on every page change so a slow refresh of the old page draws nothing. */
    generation: 0,
    history: [],
    sorts: {},
  };

  // ------------------------------------------------------------------ helpers

  /** Builds an element; strings become text nodes, so nothing is parsed as HTML. */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const enc = encodeURIComponent;

  function formatNumber(value) {
    if (typeof value !== 'number') return '';
    return value.toLocaleString('en-US', { maximumFractionDigits: 1 });
  }

  function formatBytes(value) {
    if (typeof value !== 'number') return '';
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
  }

  function rate(details) {
    return details && typeof details.rate === 'number' ? `${formatNumber(details.rate)}/s` : '';
  }

  function showError(text) {
    const box = document.getElementById('error');
    box.textContent = text || '';
    box.hidden = !text;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.reason || body.error)) || `HTTP ${status}`);
      this.status = status;
    }
  }

  /** Calls the API as the logged-in user; a 401 sends the user back to the login form. */
  async function api(method, path, body) {
    const headers = { 'X-Requested-With': 'XMLHttpRequest' };
    if (state.credentials) headers.Authorization = `Basic ${state.credentials}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text === '' ? null : JSON.parse(text);
    if (response.status === 401 && path !== '/whoami') {
      logout('Your session is no longer authorised: log in again.');
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  /** Runs an action from a button or form, showing its error instead of throwing. */
  async function act(action) {
    try {
      showError('');
      await action();
      await refreshNow();
    } catch (error) {
      showError(error.message);
    }
  }

  function confirmThen(question, action) {
    return () => {
      if (window.confirm(question)) act(action);
    };
  }

  /**
   * A table whose headers sort it. Columns: { title, value(row), render?(row), isNumber? }.
   * Sorting is remembered per table id across refreshes.
   */
  function sortableTable(id, columns, rows, rowAttributes) {
    const sort = state.sorts[id] || { index: -1, isDescending: false };
    let sorted = rows;
    if (sort.index >= 0) {
      const column = columns[sort.index];
      sorted = [...rows].sort((left, right) => {
        const a = column.value(left);
        const b = column.value(right);
        const order =
          typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(b);
        return sort.isDescending ? -order : order;
      });
    }
    const header = el(
      'tr',
      {},
      columns.map((column, index) =>
        el(
          'th',
          {
            class: [
              'sortable',
              column.isNumber ? 'number' : '',
              sort.index === index ? (sort.isDescending ? 'sorted-desc' : 'sorted-asc') : '',
            ].join(' '),
            onclick: () => {
              state.sorts[id] = {
                index,
                isDescending: sort.index === index ? !sort.isDescending : false,
              };
              refreshNow();
            },
          },
          column.title,
        ),
      ),
    );
    const body = sorted.map((row) =>
      el(
        'tr',
        rowAttributes ? rowAttributes(row) : {},
        columns.map((column) =>
          el(
            'td',
            { class: [column.isNumber ? 'number' : '', column.className || ''].join(' ') },
            column.render ? column.render(row) : formatCell(column.value(row), column),
          ),
        ),
      ),
    );
    if (body.length === 0) {
      body.push(el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, 'None')));
    }
    return el('table', { id }, el('thead', {}, header), el('tbody', {}, body));
  }

  function formatCell(value, column) {
    if (column.isNumber) return formatNumber(value);
    if (typeof value === 'boolean') return value ? '●' : '○';
    return value === undefined || value === null ? '' : String(value);
  }

  function replace(container, ...children) {
    container.replaceChildren(...children.flat());
  }

  function field(label, input) {
    return el('label', {}, label, input);
  }

  function vhostSelect(name) {
    const select = el('select', { name });
    api('GET', '/vhosts')
      .then((vhosts) => {
        for (const vhost of vhosts) select.append(el('option', { value: vhost.name }, vhost.name));
      })
      .catch((error) => showError(error.message));
    return select;
  }

  // ------------------------------------------------------------------ pages

  function overviewPage() {
    const tiles = el('div', { class: 'tiles' });
    const queuedCanvas = el('canvas', { class: 'chart', id: 'queued-chart' });
    const ratesCanvas = el('canvas', { class: 'chart', id: 'rates-chart' });
    const shards = el('div');
    const node = el('div');
    replace(
      main,
      el('h1', {}, 'Overview'),
      tiles,
      el(
        'div',
        { class: 'card' },
        el('h2', {}, 'Queued messages'),
        legend([
          ['Ready', '#c2571a'],
          ['Unacked', '#2b6cb0'],
          ['Total', '#5f6b7a'],
        ]),
        queuedCanvas,
      ),
      el(
        'div',
        { class: 'card' },
        el('h2', {}, 'Message rates'),
        legend([
          ['Publish', '#c2571a'],
          ['Deliver', '#2b6cb0'],
          ['Ack', '#2f7d32'],
        ]),
        ratesCanvas,
      ),
      el('h2', {}, 'Shards'),
      shards,
      el('h2', {}, 'Node'),
      node,
    );
    return async () => {
      const [overview, nodes] = await Promise.all([
        api('GET', '/overview'),
        api('GET', '/nodes').catch(() => []),
      ]);
      const totals = overview.queue_totals;
      const objects = overview.object_totals;
      const stats = overview.message_stats;
      state.history.push({
        ready: totals.messages_ready,
        unacked: totals.messages_unacknowledged,
        total: totals.messages,
        publish: stats.publish_details.rate,
        deliver: stats.deliver_get_details.rate,
        ack: stats.ack_details.rate,
      });
      if (state.history.length > HISTORY_POINTS) state.history.shift();
      replace(
        tiles,
        tile('Messages', totals.messages, 'total-messages'),
        tile('Ready', totals.messages_ready),
        tile('Unacked', totals.messages_unacknowledged),
        tile('Publish', rate(stats.publish_details)),
        tile('Deliver', rate(stats.deliver_get_details)),
        tile('Ack', rate(stats.ack_details)),
        tile('Connections', objects.connections, 'total-connections'),
        tile('Channels', objects.channels),
        tile('Queues', objects.queues, 'total-queues'),
        tile('Consumers', objects.consumers),
        tile('Exchanges', objects.exchanges),
      );
      drawChart(queuedCanvas, state.history, [
        ['ready', '#c2571a'],
        ['unacked', '#2b6cb0'],
        ['total', '#5f6b7a'],
      ]);
      drawChart(ratesCanvas, state.history, [
        ['publish', '#c2571a'],
        ['deliver', '#2b6cb0'],
        ['ack', '#2f7d32'],
      ]);
      replace(
        shards,
        sortableTable(
          'shards-table',
          [
            { title: 'Shard', value: (shard) => shard.shard, isNumber: true },
            { title: 'Queues', value: (shard) => shard.queues, isNumber: true },
            {
              title: 'Command ring',
              value: (shard) => shard.command_ring_bytes / shard.ring_bytes,
              render: (shard) => occupancy(shard.command_ring_bytes, shard.ring_bytes),
            },
            {
              title: 'Event ring',
              value: (shard) => shard.event_ring_bytes / shard.ring_bytes,
              render: (shard) => occupancy(shard.event_ring_bytes, shard.ring_bytes),
            },
            { title: 'fsync/s', value: (shard) => shard.fsync_details.rate, isNumber: true },
            { title: 'fsyncs', value: (shard) => shard.fsyncs, isNumber: true },
            { title: 'fsync max ms', value: (shard) => shard.fsync_ms_max, isNumber: true },
            {
              title: 'Bodies in memory',
              value: (shard) => shard.body_bytes_in_memory,
              render: (shard) => formatBytes(shard.body_bytes_in_memory),
            },
            {
              title: 'Log',
              value: (shard) => shard.log_bytes,
              render: (shard) => `${formatBytes(shard.log_bytes)} in ${shard.log_segments}`,
            },
          ],
          overview.warren_shards || [],
        ),
      );
      const info = nodes[0];
      replace(
        node,
        info
          ? el(
              'div',
              { class: 'tiles' },
              tile('Node', info.name),
              tile('Memory (RSS)', formatBytes(info.mem_used), 'node-memory'),
              tile('Heap used', formatBytes(info.warren_memory && info.warren_memory.heap_used)),
              tile('Uptime', `${Math.round(info.uptime / 1000)} s`),
              tile('Version', `Warren ${overview.product_version}`),
            )
          : el('p', { class: 'muted' }, 'Node details need the monitoring tag.'),
      );
    };
  }

  function legend(entries) {
    return el(
      'div',
      { class: 'legend' },
      entries.map(([name, color]) =>
        el('span', {}, el('i', { style: `background:${color}` }), name),
      ),
    );
  }

  function tile(label, value, id) {
    return el(
      'div',
      { class: 'tile', id },
      el('div', { class: 'value' }, typeof value === 'number' ? formatNumber(value) : value),
      el('div', { class: 'label' }, label),
    );
  }

  function occupancy(used, capacity) {
    const percent = capacity > 0 ? Math.min(100, (100 * used) / capacity) : 0;
    return el(
      'div',
      { title: `${formatBytes(used)} of ${formatBytes(capacity)}` },
      el('div', { class: 'bar' }, el('div', { style: `width:${percent.toFixed(1)}%` })),
      `${percent.toFixed(1)} %`,
    );
  }

  /** A line chart of the last points, scaled to the largest value shown. */
  function drawChart(canvas, points, series) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 180;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const context = canvas.getContext('2d');
    context.scale(ratio, ratio);
    context.clearRect(0, 0, width, height);
    let max = 1;
    for (const point of points) for (const [key] of series) max = Math.max(max, point[key] || 0);
    const left = 48;
    const bottom = height - 18;
    context.strokeStyle = '#d9dee5';
    context.fillStyle = '#5f6b7a';
    context.font = '11px system-ui, sans-serif';
    for (let line = 0; line <= 4; line++) {
      const y = bottom - (line / 4) * (bottom - 8);
      context.beginPath();
      context.moveTo(left, y);
      context.lineTo(width, y);
      context.stroke();
      const tick = (max * line) / 4;
      context.fillText(formatNumber(max >= 10 ? Math.round(tick) : tick), 2, y + 4);
    }
    const step = (width - left) / Math.max(1, HISTORY_POINTS - 1);
    for (const [key, color] of series) {
      context.strokeStyle = color;
      context.lineWidth = 2;
      context.beginPath();
      points.forEach((point, index) => {
        const x = left + (HISTORY_POINTS - points.length + index) * step;
        const y = bottom - ((point[key] || 0) / max) * (bottom - 8);
        if (index === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      });
      context.stroke();
    }
  }

  function queueLink(queue) {
    return el('a', { href: `#/queues/${enc(queue.vhost)}/${enc(queue.name)}` }, queue.name);
  }

  function queuesPage() {
    const list = el('div');
    const nameInput = el('input', { name: 'name', required: true });
    const vhostInput = vhostSelect('vhost');
    const durableInput = el('input', { type: 'checkbox', name: 'durable', checked: true });
    const form = el(
      'form',
      {
        class: 'inline card',
        id: 'add-queue',
        onsubmit: (event) => {
          event.preventDefault();
          act(() =>
            api('PUT', `/queues/${enc(vhostInput.value)}/${enc(nameInput.value)}`, {
              durable: durableInput.checked,
              auto_delete: false,
              arguments: {},
            }),
          );
        },
      },
      field('Virtual host', vhostInput),
      field('Name', nameInput),
      field('Durable', durableInput),
      el('button', { type: 'submit' }, 'Add queue'),
    );
    replace(main, el('h1', {}, 'Queues'), list, el('h2', {}, 'Add a queue'), form);
    return async () => {
      const queues = await api('GET', '/queues');
      replace(
        list,
        sortableTable(
          'queues-table',
          [
            { title: 'Virtual host', value: (queue) => queue.vhost },
            { title: 'Name', value: (queue) => queue.name, render: queueLink },
            {
              title: 'Features',
              value: (queue) => (queue.durable ? 'D' : '') + (queue.auto_delete ? ' AD' : ''),
            },
            { title: 'State', value: (queue) => queue.state },
            {
              title: 'Ready',
              value: (queue) => queue.messages_ready,
              isNumber: true,
              className: 'ready',
            },
            {
              title: 'Unacked',
              value: (queue) => queue.messages_unacknowledged,
              isNumber: true,
              className: 'unacked',
            },
            {
              title: 'Total',
              value: (queue) => queue.messages,
              isNumber: true,
              className: 'messages',
            },
            {
              title: 'Incoming',
              value: (queue) => queue.message_stats.publish_details.rate,
              render: (queue) => rate(queue.message_stats.publish_details),
              isNumber: true,
            },
            {
              title: 'Deliver',
              value: (queue) => queue.message_stats.deliver_get_details.rate,
              render: (queue) => rate(queue.message_stats.deliver_get_details),
              isNumber: true,
            },
            {
              title: 'Ack',
              value: (queue) => queue.message_stats.ack_details.rate,
              render: (queue) => rate(queue.message_stats.ack_details),
              isNumber: true,
            },
            { title: 'Consumers', value: (queue) => queue.consumers, isNumber: true },
            { title: 'Shard', value: (queue) => queue.warren_shard, isNumber: true },
          ],
          queues,
          (queue) => ({ dataset: { name: queue.name, vhost: queue.vhost } }),
        ),
      );
    };
  }

  function queuePage(vhost, name) {
    const path = `/queues/${enc(vhost)}/${enc(name)}`;
    const details = el('div', { class: 'tiles' });
    const bindings = el('div');
    const consumers = el('div');
    const messages = el('div', { id: 'got-messages' });
    const countInput = el('input', { name: 'count', type: 'number', value: '1', min: '1' });
    const modeInput = el(
      'select',
      { name: 'ackmode' },
      el('option', { value: 'ack_requeue_true' }, 'Nack, requeue'),
      el('option', { value: 'ack_requeue_false' }, 'Ack (remove)'),
      el('option', { value: 'reject_requeue_false' }, 'Reject, no requeue'),
    );
    const getForm = el(
      'form',
      {
        class: 'inline',
        id: 'get-messages',
        onsubmit: (event) => {
          event.preventDefault();
          act(async () => {
            const got = await api('POST', `${path}/get`, {
              count: Number(countInput.value),
              ackmode: modeInput.value,
              encoding: 'auto',
              truncate: 50000,
            });
            replace(
              messages,
              got.length === 0
                ? el('p', { class: 'muted' }, 'Queue is empty.')
                : got.map((message, index) =>
                    el(
                      'div',
                      { class: 'card' },
                      el(
                        'div',
                        { class: 'muted' },
                        `Message ${index + 1}: exchange '${message.exchange}', routing key '${message.routing_key}', ${message.redelivered ? 'redelivered, ' : ''}${message.payload_bytes} bytes, ${message.message_count} left`,
                      ),
                      el('pre', { class: 'payload' }, message.payload),
                      el('div', { class: 'muted' }, JSON.stringify(message.properties)),
                    ),
                  ),
            );
          });
        },
      },
      field('Messages', countInput),
      field('Ack mode', modeInput),
      el('button', { type: 'submit' }, 'Get messages'),
    );
    const routingKey = el('input', { name: 'routing_key' });
    const sourceInput = el('input', { name: 'source', required: true });
    const bindForm = el(
      'form',
      {
        class: 'inline',
        onsubmit: (event) => {
          event.preventDefault();
          act(() =>
            api('POST', `/bindings/${enc(vhost)}/e/${enc(sourceInput.value)}/q/${enc(name)}`, {
              routing_key: routingKey.value,
              arguments: {},
            }),
          );
        },
      },
      field('From exchange', sourceInput),
      field('Routing key', routingKey),
      el('button', { type: 'submit' }, 'Bind'),
    );
    replace(
      main,
      el('h1', {}, `Queue ${name}`, el('span', { class: 'muted' }, ` in ${vhost}`)),
      details,
      el(
        'div',
        { class: 'card' },
        el(
          'button',
          {
            id: 'purge-queue',
            class: 'secondary',
            onclick: confirmThen(`Purge all messages of '${name}'?`, () =>
              api('DELETE', `${path}/contents`),
            ),
          },
          'Purge messages',
        ),
        ' ',
        el(
          'button',
          {
            id: 'delete-queue',
            class: 'danger',
            onclick: confirmThen(`Delete queue '${name}'?`, async () => {
              await api('DELETE', path);
              location.hash = '#/queues';
            }),
          },
          'Delete queue',
        ),
      ),
      el('h2', {}, 'Get messages'),
      el('div', { class: 'card' }, getForm, messages),
      el('h2', {}, 'Bindings'),
      bindings,
      el('div', { class: 'card' }, bindForm),
      el('h2', {}, 'Consumers'),
      consumers,
    );
    return async () => {
      const [queue, queueBindings, allConsumers] = await Promise.all([
        api('GET', path),
        api('GET', `${path}/bindings`),
        api('GET', `/consumers/${enc(vhost)}`),
      ]);
      replace(
        details,
        tile('Total', queue.messages, 'queue-messages'),
        tile('Ready', queue.messages_ready, 'queue-ready'),
        tile('Unacked', queue.messages_unacknowledged, 'queue-unacked'),
        tile('Consumers', queue.consumers),
        tile('Incoming', rate(queue.message_stats.publish_details)),
        tile('Deliver', rate(queue.message_stats.deliver_get_details)),
        tile('Durable', queue.durable ? 'yes' : 'no'),
        tile('Auto-delete', queue.auto_delete ? 'yes' : 'no'),
        tile('Exclusive', queue.exclusive ? 'yes' : 'no'),
        tile('Shard', queue.warren_shard),
        tile('Arguments', JSON.stringify(queue.arguments)),
      );
      replace(
        bindings,
        sortableTable(
          'queue-bindings',
          [
            {
              title: 'From',
              value: (binding) => binding.source,
              render: (binding) => binding.source || '(default exchange)',
            },
            { title: 'Routing key', value: (binding) => binding.routing_key },
            { title: 'Arguments', value: (binding) => JSON.stringify(binding.arguments) },
            {
              title: '',
              value: () => '',
              render: (binding) =>
                binding.source === ''
                  ? ''
                  : el(
                      'button',
                      {
                        class: 'secondary',
                        onclick: () =>
                          act(() =>
                            api(
                              'DELETE',
                              `/bindings/${enc(vhost)}/e/${enc(binding.source)}/q/${enc(name)}/${enc(binding.properties_key)}`,
                            ),
                          ),
                      },
                      'Unbind',
                    ),
            },
          ],
          queueBindings,
        ),
      );
      replace(
        consumers,
        sortableTable(
          'queue-consumers',
          [
            { title: 'Channel', value: (consumer) => consumer.channel_details.name },
            { title: 'Consumer tag', value: (consumer) => consumer.consumer_tag },
            { title: 'Ack required', value: (consumer) => consumer.ack_required },
            { title: 'Exclusive', value: (consumer) => consumer.exclusive },
            { title: 'Prefetch', value: (consumer) => consumer.prefetch_count, isNumber: true },
          ],
          allConsumers.filter((consumer) => consumer.queue.name === name),
        ),
      );
    };
  }

  function exchangesPage() {
    const list = el('div');
    const nameInput = el('input', { name: 'name', required: true });
    const vhostInput = vhostSelect('vhost');
    const typeInput = el(
      'select',
      { name: 'type' },
      ['direct', 'fanout', 'topic', 'headers'].map((type) => el('option', { value: type }, type)),
    );
    const form = el(
      'form',
      {
        class: 'inline card',
        onsubmit: (event) => {
          event.preventDefault();
          act(() =>
            api('PUT', `/exchanges/${enc(vhostInput.value)}/${enc(nameInput.value)}`, {
              type: typeInput.value,
              durable: true,
              auto_delete: false,
              internal: false,
              arguments: {},
            }),
          );
        },
      },
      field('Virtual host', vhostInput),
      field('Name', nameInput),
      field('Type', typeInput),
      el('button', { type: 'submit' }, 'Add exchange'),
    );
    replace(main, el('h1', {}, 'Exchanges'), list, el('h2', {}, 'Add an exchange'), form);
    return async () => {
      const exchanges = await api('GET', '/exchanges');
      replace(
        list,
        sortableTable(
          'exchanges-table',
          [
            { title: 'Virtual host', value: (exchange) => exchange.vhost },
            {
              title: 'Name',
              value: (exchange) => exchange.name,
              render: (exchange) =>
                el(
                  'a',
                  {
                    href: `#/exchanges/${enc(exchange.vhost)}/${enc(exchange.name || 'amq.default')}`,
                  },
                  exchange.name || '(AMQP default)',
                ),
            },
            { title: 'Type', value: (exchange) => exchange.type },
            { title: 'Durable', value: (exchange) => exchange.durable },
            { title: 'Auto-delete', value: (exchange) => exchange.auto_delete },
            { title: 'Internal', value: (exchange) => exchange.internal },
            {
              title: 'Rate in',
              value: (exchange) => exchange.message_stats.publish_in_details.rate,
              render: (exchange) => rate(exchange.message_stats.publish_in_details),
              isNumber: true,
              className: 'rate-in',
            },
            {
              title: 'Rate out',
              value: (exchange) => exchange.message_stats.publish_out_details.rate,
              render: (exchange) => rate(exchange.message_stats.publish_out_details),
              isNumber: true,
              className: 'rate-out',
            },
          ],
          exchanges,
          (exchange) => ({ dataset: { name: exchange.name, vhost: exchange.vhost } }),
        ),
      );
    };
  }

  function exchangePage(vhost, name) {
    const path = `/exchanges/${enc(vhost)}/${enc(name)}`;
    const details = el('div', { class: 'tiles' });
    const bindings = el('div');
    const result = el('p', { id: 'publish-result' });
    const routingKey = el('input', { name: 'routing_key' });
    const payload = el('textarea', { name: 'payload', rows: '4', cols: '60' });
    const persistent = el('input', { type: 'checkbox', name: 'persistent' });
    const publishForm = el(
      'form',
      {
        class: 'inline',
        id: 'publish',
        onsubmit: (event) => {
          event.preventDefault();
          act(async () => {
            const answer = await api('POST', `${path}/publish`, {
              routing_key: routingKey.value,
              payload: payload.value,
              payload_encoding: 'string',
              properties: persistent.checked ? { delivery_mode: 2 } : {},
            });
            result.textContent = answer.routed
              ? 'Message published.'
              : 'Message published, but not routed to any queue.';
          });
        },
      },
      field('Routing key', routingKey),
      field('Payload', payload),
      field('Persistent', persistent),
      el('button', { type: 'submit' }, 'Publish message'),
    );
    replace(
      main,
      el('h1', {}, `Exchange ${name}`, el('span', { class: 'muted' }, ` in ${vhost}`)),
      details,
      el('h2', {}, 'Bindings from this exchange'),
      bindings,
      el('h2', {}, 'Publish a message'),
      el('div', { class: 'card' }, publishForm, result),
      name.startsWith('amq.') || name === ''
        ? ''
        : el(
            'button',
            {
              class: 'danger',
              onclick: confirmThen(`Delete exchange '${name}'?`, async () => {
                await api('DELETE', path);
                location.hash = '#/exchanges';
              }),
            },
            'Delete exchange',
          ),
    );
    return async () => {
      const exchange = await api('GET', path);
      const source = name === 'amq.default' ? [] : await api('GET', `${path}/bindings/source`);
      replace(
        details,
        tile('Type', exchange.type),
        tile('Durable', exchange.durable ? 'yes' : 'no'),
        tile('Auto-delete', exchange.auto_delete ? 'yes' : 'no'),
        tile('Internal', exchange.internal ? 'yes' : 'no'),
        tile('Arguments', JSON.stringify(exchange.arguments)),
      );
      replace(
        bindings,
        sortableTable(
          'exchange-bindings',
          [
            { title: 'To', value: (binding) => binding.destination },
            { title: 'Type', value: (binding) => binding.destination_type },
            { title: 'Routing key', value: (binding) => binding.routing_key },
            { title: 'Arguments', value: (binding) => JSON.stringify(binding.arguments) },
          ],
          source,
        ),
      );
    };
  }

  function connectionsPage() {
    const list = el('div');
    replace(main, el('h1', {}, 'Connections'), list);
    return async () => {
      const connections = await api('GET', '/connections');
      replace(
        list,
        sortableTable(
          'connections-table',
          [
            { title: 'Name', value: (connection) => connection.name },
            {
              // The client's connection_name property, as RabbitMQ's UI shows it.
              title: 'Client-provided name',
              value: (connection) => connection.user_provided_name || '',
              className: 'user-provided-name',
            },
            { title: 'Virtual host', value: (connection) => connection.vhost },
            { title: 'User', value: (connection) => connection.user },
            {
              title: 'Client',
              value: (connection) =>
                (connection.client_properties && connection.client_properties.product) || '',
            },
            { title: 'Channels', value: (connection) => connection.channels, isNumber: true },
            { title: 'Heartbeat s', value: (connection) => connection.timeout, isNumber: true },
            {
              title: 'Received',
              value: (connection) => connection.recv_oct,
              render: (connection) => formatBytes(connection.recv_oct),
              isNumber: true,
            },
            {
              title: 'Sent',
              value: (connection) => connection.send_oct,
              render: (connection) => formatBytes(connection.send_oct),
              isNumber: true,
            },
            {
              title: '',
              value: () => '',
              render: (connection) =>
                el(
                  'button',
                  {
                    class: 'danger',
                    onclick: confirmThen(`Close connection ${connection.name}?`, () =>
                      api('DELETE', `/connections/${enc(connection.name)}`),
                    ),
                  },
                  'Close',
                ),
            },
          ],
          connections,
          (connection) => ({ dataset: { name: connection.name } }),
        ),
      );
    };
  }

  function channelsPage() {
    const list = el('div');
    replace(main, el('h1', {}, 'Channels'), list);
    return async () => {
      const channels = await api('GET', '/channels');
      replace(
        list,
        sortableTable(
          'channels-table',
          [
            { title: 'Channel', value: (channel) => channel.name },
            { title: 'Virtual host', value: (channel) => channel.vhost },
            { title: 'User', value: (channel) => channel.user },
            {
              title: 'Mode',
              value: (channel) =>
                channel.confirm ? 'confirm' : channel.transactional ? 'transactional' : '',
            },
            { title: 'Consumers', value: (channel) => channel.consumer_count, isNumber: true },
            { title: 'Prefetch', value: (channel) => channel.prefetch_count, isNumber: true },
            {
              title: 'Unacked',
              value: (channel) => channel.messages_unacknowledged,
              isNumber: true,
            },
          ],
          channels,
        ),
      );
    };
  }

  function adminPage() {
    const vhosts = el('div');
    const users = el('div');
    const permissions = el('div');
    const vhostName = el('input', { name: 'vhost', required: true });
    const userName = el('input', { name: 'username', required: true });
    const userPassword = el('input', { name: 'password', type: 'password' });
    const userTags = el('input', { name: 'tags', placeholder: 'administrator,management' });
    const permissionVhost = vhostSelect('vhost');
    const permissionUser = el('input', { name: 'user', required: true });
    const configure = el('input', { name: 'configure', value: '.*' });
    const write = el('input', { name: 'write', value: '.*' });
    const read = el('input', { name: 'read', value: '.*' });
    const submit = (action) => (event) => {
      event.preventDefault();
      act(action);
    };
    replace(
      main,
      el('h1', {}, 'Admin'),
      el('h2', {}, 'Virtual hosts'),
      vhosts,
      el(
        'form',
        {
          class: 'inline card',
          id: 'add-vhost',
          onsubmit: submit(() => api('PUT', `/vhosts/${enc(vhostName.value)}`)),
        },
        field('Name', vhostName),
        el('button', { type: 'submit' }, 'Add virtual host'),
      ),
      el('h2', {}, 'Users'),
      users,
      el(
        'form',
        {
          class: 'inline card',
          id: 'add-user',
          onsubmit: submit(() =>
            api('PUT', `/users/${enc(userName.value)}`, {
              password: userPassword.value,
              tags: userTags.value,
            }),
          ),
        },
        field('Username', userName),
        field('Password', userPassword),
        field('Tags', userTags),
        el('button', { type: 'submit' }, 'Add or update user'),
      ),
      el('h2', {}, 'Permissions'),
      permissions,
      el(
        'form',
        {
          class: 'inline card',
          id: 'set-permission',
          onsubmit: submit(() =>
            api('PUT', `/permissions/${enc(permissionVhost.value)}/${enc(permissionUser.value)}`, {
              configure: configure.value,
              write: write.value,
              read: read.value,
            }),
          ),
        },
        field('Virtual host', permissionVhost),
        field('User', permissionUser),
        field('Configure', configure),
        field('Write', write),
        field('Read', read),
        el('button', { type: 'submit' }, 'Set permission'),
      ),
    );
    return async () => {
      const [vhostList, userList, permissionList] = await Promise.all([
        api('GET', '/vhosts'),
        api('GET', '/users'),
        api('GET', '/permissions'),
      ]);
      const deleteButton = (question, path) =>
        el(
          'button',
          { class: 'danger', onclick: confirmThen(question, () => api('DELETE', path)) },
          'Delete',
        );
      replace(
        vhosts,
        sortableTable(
          'vhosts-table',
          [
            { title: 'Name', value: (vhost) => vhost.name },
            { title: 'Messages', value: (vhost) => vhost.messages, isNumber: true },
            {
              title: '',
              value: () => '',
              render: (vhost) =>
                deleteButton(
                  `Delete virtual host '${vhost.name}' and everything in it?`,
                  `/vhosts/${enc(vhost.name)}`,
                ),
            },
          ],
          vhostList,
          (vhost) => ({ dataset: { name: vhost.name } }),
        ),
      );
      replace(
        users,
        sortableTable(
          'users-table',
          [
            { title: 'Name', value: (user) => user.name },
            { title: 'Tags', value: (user) => user.tags.join(', ') },
            {
              title: '',
              value: () => '',
              render: (user) =>
                deleteButton(`Delete user '${user.name}'?`, `/users/${enc(user.name)}`),
            },
          ],
          userList,
          (user) => ({ dataset: { name: user.name } }),
        ),
      );
      replace(
        permissions,
        sortableTable(
          'permissions-table',
          [
            { title: 'Virtual host', value: (entry) => entry.vhost },
            { title: 'User', value: (entry) => entry.user },
            { title: 'Configure', value: (entry) => entry.configure },
            { title: 'Write', value: (entry) => entry.write },
            { title: 'Read', value: (entry) => entry.read },
            {
              title: '',
              value: () => '',
              render: (entry) =>
                deleteButton(
                  `Clear the permissions of '${entry.user}' in '${entry.vhost}'?`,
                  `/permissions/${enc(entry.vhost)}/${enc(entry.user)}`,
                ),
            },
          ],
          permissionList,
        ),
      );
    };
  }

  // ------------------------------------------------------------------ routing and polling

  let refreshPage = null;

  async function refreshNow() {
    if (refreshPage === null) return;
    const generation = state.generation;
    try {
      await refreshPage();
      if (generation !== state.generation) return;
      document.getElementById('refreshed').textContent =
        `Refreshed ${new Date().toLocaleTimeString()}; every ${POLL_MS / 1000} s.`;
    } catch (error) {
      if (generation === state.generation) showError(error.message);
    }
  }

  function route() {
    if (!state.credentials) return;
    state.generation++;
    showError('');
    const parts = location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .map((part) => decodeURIComponent(part));
    const [page, vhost, name] = parts;
    for (const link of document.querySelectorAll('nav a')) {
      link.classList.toggle('active', link.dataset.page === (page || 'overview'));
    }
    if (page === 'queues' && name !== undefined) refreshPage = queuePage(vhost, name);
    else if (page === 'queues') refreshPage = queuesPage();
    else if (page === 'exchanges' && name !== undefined) refreshPage = exchangePage(vhost, name);
    else if (page === 'exchanges') refreshPage = exchangesPage();
    else if (page === 'connections') refreshPage = connectionsPage();
    else if (page === 'channels') refreshPage = channelsPage();
    else if (page === 'admin') refreshPage = adminPage();
    else refreshPage = overviewPage();
    refreshNow();
  }

  function startPolling() {
    clearInterval(state.timer);
    state.timer = setInterval(refreshNow, POLL_MS);
  }

  function showLoggedIn(whoami) {
    document.getElementById('nav').hidden = false;
    replace(
      document.getElementById('who'),
      `${whoami.name} (${whoami.tags.join(', ') || 'no tags'})`,
      el('button', { class: 'secondary', id: 'logout', onclick: () => logout('') }, 'Log out'),
    );
    route();
    startPolling();
  }

  function logout(message) {
    state.credentials = null;
    sessionStorage.removeItem('warren.credentials');
    clearInterval(state.timer);
    refreshPage = null;
    document.getElementById('nav').hidden = true;
    replace(document.getElementById('who'));
    replace(main, loginForm);
    document.getElementById('login-error').textContent = message || '';
  }

  loginForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(loginForm);
    const credentials = btoa(
      unescape(encodeURIComponent(`${data.get('username')}:${data.get('password')}`)),
    );
    state.credentials = credentials;
    try {
      const whoami = await api('GET', '/whoami');
      sessionStorage.setItem('warren.credentials', credentials);
      document.getElementById('login-error').textContent = '';
      showLoggedIn(whoami);
    } catch (error) {
      state.credentials = null;
      document.getElementById('login-error').textContent =
        error.status === 401 ? `Login failed: ${error.message}` : error.message;
    }
  });

  window.addEventListener('hashchange', route);

  if (state.credentials) {
    api('GET', '/whoami').then(showLoggedIn, () => logout(''));
  }
})();
