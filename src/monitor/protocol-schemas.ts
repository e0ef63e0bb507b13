/** zod schemas of the platform and monitoring-service responses the client reads (PROTOCOL.md §2). */
import { z } from 'zod';

/** `GET /api/home/ping`: `username` and `default_organization` must be present (the latter may be null). */
export const pingResponseSchema = z.looseObject({
  username: z.string().nullable(),
  default_organization: z.string().min(1).nullable(),
});

/** `GET /api/organizations/find?name=`: only `id` is read (its absence means "not found"). */
export const organizationFindSchema = z.looseObject({ id: z.string().min(1) });

/** `GET /api/organization/{id}`: `OrganizationSchema`. */
export const organizationSchema = z.looseObject({
  name: z.string(),
  id: z.string().min(1).optional(),
  default_connector_id: z.string().nullable().optional(),
});

/** `GET /api/organization/{id}/deployments/find?name=`: `DeploymentSchema` (extra keys ignored). */
export const deploymentSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  type: z.string().min(1),
  oracle_host: z.string().nullable(),
  serving_host: z.string().nullable().optional(),
});

/** `POST {oracle}/api/auth/login`: exactly 200 with `jwt` and `expires` (the latter is never used). */
export const loginResponseSchema = z
  .looseObject({ jwt: z.string().min(1) })
  .refine((o) => Object.hasOwn(o, 'expires'), { message: 'expires is missing' });

/** `201` answer to a prediction: the SDK reads nothing, the docs use `id`. */
export const createdSchema = z.looseObject({ id: z.string().min(1) });
