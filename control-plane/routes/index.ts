/** @module The admin API's resource routers and their OpenAPI fragments, in one list. */
import type { RouteModule } from '../app.js';
import type { OpenApiFragment } from '../openapi.js';
import { accessOpenApi, accessRoutes } from './access.js';
import { apisOpenApi, apisRoutes } from './apis.js';
import { auditOpenApi, auditRoutes } from './audit.js';
import { consumersOpenApi, consumersRoutes } from './consumers.js';
import { notificationsOpenApi, notificationsRoutes } from './notifications.js';
import { ownershipOpenApi, ownershipRoutes } from './ownership.js';
import { plansOpenApi, plansRoutes } from './plans.js';
import { subscriptionsOpenApi, subscriptionsRoutes } from './subscriptions.js';
import { teamsOpenApi, teamsRoutes } from './teams.js';
import { versionsOpenApi, versionsRoutes } from './versions.js';

/** Mounted under /api/v1 behind authentication. */
export const ADMIN_ROUTES: readonly RouteModule[] = [teamsRoutes, apisRoutes, versionsRoutes, plansRoutes, consumersRoutes, subscriptionsRoutes, auditRoutes, accessRoutes, notificationsRoutes, ownershipRoutes];

export const ADMIN_OPENAPI: readonly OpenApiFragment[] = [teamsOpenApi, apisOpenApi, versionsOpenApi, plansOpenApi, consumersOpenApi, subscriptionsOpenApi, auditOpenApi, accessOpenApi, notificationsOpenApi, ownershipOpenApi];
