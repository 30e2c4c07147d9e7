// The log level at run time: GET /api/warren/log-level answers {"level": ...} and PUT with
// {"level": "debug"} changes it at once, for every thread's lines. RabbitMQ has no HTTP endpoint
// for this (rabbitmqctl set_log_level), so the path sits under Warren's own prefix.
// Administrators only. Network thread only.

import { isLogLevel, LOG_LEVELS } from '../../net/index.js';
import { jsonBody, noContent, ok, type Route } from '../api-types.js';
import { badRequest } from '../http-errors.js';

export const logLevelRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/warren/log-level',
    access: 'administrator',
    handle: (context) => ok({ level: context.broker.logLevel }),
  },
  {
    method: 'PUT',
    path: '/api/warren/log-level',
    access: 'administrator',
    handle(context) {
      const level = jsonBody(context)['level'];
      if (!isLogLevel(level)) {
        throw badRequest(`level must be one of ${LOG_LEVELS.join(', ')}`);
      }
      const previous = context.broker.logLevel;
      context.broker.setLogLevel(level);
      if (level !== previous) {
        context.broker.log('info', 'log level changed', {
          level,
          previous,
          by: context.principal.name,
        });
      }
      return noContent();
    },
  },
];
